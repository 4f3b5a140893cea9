"""The run-time state a check receives besides its rule and rows, and the per-chunk
cache the engine opens around the checks of one chunk."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar, cast

from audit.limits import DEFAULT_LIMITS, Limits
from audit.model import Stage

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanContext:
    """Frozen per scan: stage, fingerprint key, and the optional ledger and identities.

    ``ledger`` is an :class:`audit.ledger.Ledger` and ``identities`` a
    :class:`audit.detectors.known.KnownIdentities`, or None when not given.
    """

    stage: Stage
    key: bytes
    #: every stage the scan reads (``--stored`` adds the stored one); ``stage`` is the
    #: stage of the input being checked
    stages: frozenset[Stage] = frozenset()
    show_evidence: bool = False
    ledger: Any = None
    identities: Any = None
    rulepack: Any = None
    mapping: Any = None  # audit.mapping.FieldMapping for non-reference event formats
    limits: Limits = DEFAULT_LIMITS
    #: Per-scan caches of checks, e.g. detection results per (rule, column), so a value
    #: repeated across chunks is examined once. Bounded by the checks that fill it.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def has(self, need: str) -> bool:
        return getattr(self, need) is not None

    @property
    def scan_stages(self) -> frozenset[Stage]:
        """The stages of the whole scan."""
        return self.stages or frozenset({self.stage})


class ChunkCache:
    """Values derived from the frames of the chunk being checked, each computed once.

    Rules of one category often need the same thing of the same rows: the row mask of
    a selector, a column's distinct values and their prefilter hits, parsed event
    times. An entry is keyed by the frame it was derived from (by identity: the cache
    keeps the frame alive, so its id cannot be reused while the entry exists) and by
    what was derived. The engine opens one cache per chunk (:func:`chunk_scoped`) and
    drops it when the chunk is done; outside a chunk nothing is cached.
    """

    __slots__ = ("_frames", "_values")

    def __init__(self) -> None:
        self._frames: dict[int, Any] = {}
        self._values: dict[tuple[int, Hashable], Any] = {}

    def get(self, frame: Any, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``frame`` and ``key`` while the chunk is checked."""
        slot = (id(frame), key)
        if slot in self._values:
            return cast(T, self._values[slot])
        value = compute()
        self._frames[id(frame)] = frame
        self._values[slot] = value
        return value


_CHUNK: ContextVar[ChunkCache | None] = ContextVar("chunk_cache", default=None)


def chunk_scoped(func: Callable[P, T]) -> Callable[P, T]:
    """Run each call of ``func`` (the engine's per-chunk step) with a fresh chunk cache,
    open for the checks it calls in this thread and dropped when it returns."""

    @functools.wraps(func)
    def scoped(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _CHUNK.set(ChunkCache())
        try:
            return func(*args, **kwargs)
        finally:
            _CHUNK.reset(token)

    return scoped


def shared(frame: Any, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` through the open chunk cache: once per chunk for ``frame`` and
    ``key``; when no chunk is open (a check called on its own), simply computed."""
    cache = _CHUNK.get()
    return compute() if cache is None else cache.get(frame, key, compute)
