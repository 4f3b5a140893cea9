"""The run-time state a check receives besides its rule and rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.model import Stage


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanContext:
    """Frozen per scan: stage, fingerprint key, and the optional ledger and identities.

    ``ledger`` is an :class:`audit.ledger.Ledger` and ``identities`` a
    :class:`audit.detectors.known.KnownIdentities`, or None when not given.
    """

    stage: Stage
    key: bytes
    show_evidence: bool = False
    ledger: Any = None
    identities: Any = None
    rulepack: Any = None
    mapping: Any = None  # audit.mapping.FieldMapping for non-reference event formats
    #: Per-scan caches of checks, e.g. detection results per (rule, column), so a value
    #: repeated across chunks is examined once. Bounded by the checks that fill it.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def has(self, need: str) -> bool:
        return getattr(self, need) is not None
