"""What a scan was asked to do, as one frozen value (from the CLI or the API)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from audit.limits import DEFAULT_LIMITS, Limits
from audit.model import Severity, Stage

DEFAULT_CHUNK_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class RejectLimit:
    """``--max-rejected``: how much of the input may go unaudited (rejected records and
    skipped files) before the verdict is INCOMPLETE: a count, or a percentage of the
    records read and files skipped. The default, 0, allows nothing."""

    count: int | None = 0
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> RejectLimit:
        """``12`` or ``0.5%``; ValueError says what is wrong."""
        raw = text.strip()
        if raw.endswith("%"):
            try:
                percent = float(raw[:-1])
            except ValueError:
                raise ValueError(f"not a percentage: {text!r} (e.g. 0.5%)") from None
            if not math.isfinite(percent) or not 0 <= percent <= 100:
                raise ValueError(f"a percentage must be between 0% and 100%, not {text!r}")
            return cls(count=None, percent=percent)
        try:
            count = int(raw)
        except ValueError:
            raise ValueError(f"not a count or a percentage: {text!r} (e.g. 10 or 0.5%)"
                             ) from None
        if count < 0:
            raise ValueError(f"a count cannot be negative: {text!r}")
        return cls(count=count)

    def allows(self, unaudited: int, total: int) -> bool:
        """Whether ``unaudited`` of ``total`` units stay within the limit."""
        if self.percent is not None:
            return unaudited * 100 <= self.percent * total
        return unaudited <= (self.count or 0)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    """Parameters of one scan; paths are kept as given so reports show them as typed."""

    inputs: tuple[str, ...]
    #: inputs read as the stored stage in the same scan (``--stored``)
    stored: tuple[str, ...] = ()
    rules: str | None = None
    ledger: str | None = None
    identities: str | None = None
    mapping: str | None = None
    stage: Stage = Stage.TRANSIT
    fail_on: Severity = Severity.HIGH
    baseline: str | None = None
    formats: tuple[str, ...] = ("json",)
    out_dir: Path = Path("reports")
    show_evidence: bool = False
    key: str | None = field(default=None, repr=False)
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    engine: str = "pandas"
    scheduler: str | None = None
    workers: int | None = None
    #: processes of the pandas engine; 0 picks one per core once the inputs are large
    jobs: int = 0
    command: str | None = None
    quiet: bool = False
    #: rule ids or globs (``census/*``) the user leaves out of this audit
    skip_rules: tuple[str, ...] = ()
    max_rejected: RejectLimit = RejectLimit()
    #: INCOMPLETE exits 0, as PASS does (the report still says INCOMPLETE)
    allow_incomplete: bool = False
    #: what untrusted input may cost (``--limit NAME=VALUE``)
    limits: Limits = DEFAULT_LIMITS
