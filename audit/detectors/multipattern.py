"""All catalogue patterns in one Hyperscan database, run over many values at once.

Why: Python's ``re`` runs one pattern at a time, so a catalogue of thirty formats
costs thirty passes over every value. Hyperscan compiles them into one automaton
and scans a buffer in one linear pass whatever its length. A column's distinct
values are joined into ONE buffer with a newline between them (no pattern matches a
newline); match ends are mapped back to values with ``numpy.searchsorted``. Only
then does Python look again, at the hit values alone: each hit entry's ``re`` (same
pattern) extracts the value, and the entry's validator, placeholder filter and
entropy floor judge it.

Match starts (``HS_FLAG_SOM_LEFTMOST``) are not asked for: Hyperscan refuses start of
match tracking for most catalogue patterns ("Pattern is too large": bounded repeats
of hundreds or thousands such as a JWT's). Python searches a hit value from
`MAX_VALUE_LEN` characters before the first reported end, which holds the whole
match of every catalogue pattern (all are far shorter), so a hit deep in a long
value is still examined. ``HS_FLAG_SINGLEMATCH`` is not used either: in a joined
buffer it would report a pattern once for all values, not once per value.

Compiling the catalogue takes about a second, longer than scanning a million events'
distinct values, so a compiled database is serialised into the user's cache folder
(`cache_dir`) under a digest of the Hyperscan version and the patterns, and later runs
load it in milliseconds; a missing, stale or unreadable file is simply compiled again,
and a cache that cannot be written is no error. The engine compiles (or loads) the
database before it forks its workers (`warm`), so they share it instead of each
compiling its own. Only the patterns, never data, go into the cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from audit.detectors.base import MAX_VALUE_LEN, Match
from audit.detectors.catalogue import Entry
from audit.lazy import lazy

if TYPE_CHECKING:
    import hyperscan
    import numpy as np
else:
    hyperscan = lazy("hyperscan")
    np = lazy("numpy")

SEPARATOR = b"\n"


@cache
def _patterns(entries: tuple[Entry, ...]) -> tuple[tuple[int, ...], ...]:
    """Entries grouped by pattern text, in order of first use: entries that differ only by
    their checks (a signed and an unsigned JWT) share one pattern of the database, as
    Hyperscan compiles two copies of a large pattern at twice the cost."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        groups.setdefault(e.pattern, []).append(i)
    return tuple(tuple(g) for g in groups.values())


#: Set to a folder to keep compiled databases there, or to an empty string for none.
CACHE_ENV = "TELEMETRY_AUDIT_CACHE"


def cache_dir() -> Path | None:
    """Where compiled databases are kept: ``$TELEMETRY_AUDIT_CACHE`` when set (empty: no
    cache), else ``$XDG_CACHE_HOME/telemetry-audit`` or ``~/.cache/telemetry-audit``."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "telemetry-audit"


def _cache_file(patterns: list[bytes]) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(hyperscan.__version__.encode())
    for pattern in patterns:
        digest.update(len(pattern).to_bytes(4, "big") + pattern)
    return folder / f"catalogue-{digest.hexdigest()[:32]}.hsdb"


def _load(path: Path | None) -> hyperscan.Database | None:
    if path is None:
        return None
    try:
        db = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        db.scratch = hyperscan.Scratch(db)  # a loaded database comes without one
    except (OSError, hyperscan.error):  # absent, unreadable, or another library version's
        return None
    return db


def _store(path: Path | None, db: hyperscan.Database) -> None:
    """Write the serialised database atomically (a reader never sees half a file)."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hsdb-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(hyperscan.dumpb(db))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, hyperscan.error):  # a read-only home: compile again next time
        pass


def compiled(entries: tuple[Entry, ...]) -> hyperscan.Database:
    """One block-mode database of the entries' distinct patterns (id: the position of its
    group in `_patterns`), loaded from the cache when it was compiled before."""
    groups = _patterns(entries)
    patterns = [entries[g[0]].pattern.encode("ascii") for g in groups]
    path = _cache_file(patterns)
    db = _load(path)
    if db is None:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=patterns, ids=list(range(len(groups))),
                   elements=len(groups), flags=[0] * len(groups))
        _store(path, db)
    return db


_database = cache(compiled)


def warm(entries: tuple[Entry, ...]) -> None:
    """Compile (or load) the database now: forked workers then inherit it."""
    if entries:
        _database(entries)


def _char_offset(value: str, raw: bytes, offset: int) -> int:
    """The character position of byte ``offset`` of ``value`` (UTF-8 ``raw``)."""
    if len(raw) == len(value):
        return offset
    return len(raw[:offset].decode("utf-8", "surrogatepass")) + 1  # past a split character


def _extract(entry: Entry, value: str, end: int) -> list[Match]:
    """The entry's accepted matches in ``value`` around its first reported match, which
    ends at character ``end`` (a window of twice `MAX_VALUE_LEN` characters)."""
    out: list[Match] = []
    lo = max(0, end - MAX_VALUE_LEN)
    for m in entry.regex.finditer(value, lo, min(len(value), lo + 2 * MAX_VALUE_LEN)):
        secret = entry.value_of(m)
        if secret and entry.accepts(secret):
            out.append(Match("SECRET", secret, entry.explanation, detector=entry.id))
    return out


def scan(entries: tuple[Entry, ...], values: Sequence[str]) -> list[list[Match]]:
    """Each value's accepted matches, in catalogue order then by position."""
    if not values or not entries:
        return [[] for _ in values]
    raws = [v.encode("utf-8", "surrogatepass") for v in values]
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    starts = np.zeros(len(raws), dtype=np.int64)
    np.cumsum(lengths[:-1] + len(SEPARATOR), out=starts[1:])
    ids: list[int] = []
    ends: list[int] = []

    def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
        ids.append(pid)
        ends.append(to)

    _database(entries).scan(SEPARATOR.join(raws), match_event_handler=on_match)
    results: list[list[Match]] = [[] for _ in values]
    if not ids:
        return results
    pid = np.asarray(ids, dtype=np.int64)
    end = np.asarray(ends, dtype=np.int64)
    where = np.searchsorted(starts, end - 1, side="right") - 1  # the value a match ends in
    local = end - starts[where]
    # The first reported end of each (value, entry) pair: Python searches around it.
    order = np.lexsort((local, pid, where))
    where, pid, local = where[order], pid[order], local[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (where[1:] != where[:-1]) | (pid[1:] != pid[:-1])
    groups = _patterns(entries)
    for i, p, at in zip(where[first].tolist(), pid[first].tolist(), local[first].tolist(),
                        strict=True):
        value = values[i]
        offset = _char_offset(value, raws[i], at)
        for e in groups[p]:
            results[i].extend(_extract(entries[e], value, offset))
    if any(len(g) > 1 for g in groups):  # a shared pattern's entries back in catalogue order
        rank = {e.id: k for k, e in enumerate(entries)}
        for found in results:
            if len(found) > 1:
                found.sort(key=lambda m: rank[m.detector or ""])
    return results
