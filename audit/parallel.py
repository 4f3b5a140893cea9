"""Planning and pools: how many processes, which units of work, and running them.

The pandas engine cuts large files into parts and groups small ones into units, and
runs them in forked processes that share the loaded context copy-on-write; a large
ledger is read in a forked process while the directory builds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from audit.chunks import file_size
from audit.context import ScanContext
from audit.errors import AuditError
from audit.fingerprint import printable
from audit.model import Stage
from audit.options import ScanOptions
from audit.readers import sha256_of, split
from audit.rule_states import RuleState
from audit.rulepack import RulePack
from audit.units import Unit, UnitResult, merge_parts, scan_file

#: Sizes from which the ledger and the directory each take over 0.1 s to load (a forked
#: reader costs about 0.05 s): below either, or on one core, the ledger is read here.
ASIDE_MIN_LEDGER_BYTES = 1 << 20


ASIDE_MIN_IDENTITIES_BYTES = 1 << 15


def worth_reading_aside(options: ScanOptions) -> bool:
    import multiprocessing

    if not (options.ledger and options.identities) or usable_cores() < 2 \
            or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return os.path.getsize(options.ledger) >= ASIDE_MIN_LEDGER_BYTES \
            and os.path.getsize(options.identities) >= ASIDE_MIN_IDENTITIES_BYTES
    except OSError:  # the loaders report a missing file
        return False


_ASIDE: tuple[str, RulePack] | None = None


def _forked_pool(workers: int, initializer: Any, initargs: tuple[Any, ...] = ()) -> Any:
    """Forked worker processes that share this one's loaded state copy-on-write. Unlike
    ``multiprocessing.Pool``, a worker that dies (out of memory, a crash in native code)
    breaks the pool and its results raise, instead of the caller waiting forever."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=initializer, initargs=initargs)


def _stop(pool: Any) -> None:
    """End a pool's processes now, without waiting for the work they are doing."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _keep_aside(path: str, pack: RulePack) -> None:
    """In the forked reader: what to read (the rule pack is not picklable; a fork
    inherits it)."""
    global _ASIDE
    _ASIDE = (path, pack)


def _read_aside() -> Any:
    """In the forked process: the ledger read and validated (see :class:`LedgerAside`)."""
    from audit.ledger import read_ledger

    assert _ASIDE is not None
    return read_ledger(*_ASIDE)


class LedgerAside:
    """A ledger read in a forked process while this one builds the directory automaton
    (both take about as long). Any failure over there, a broken ledger or a process that
    dies included, gives no result: the ledger is then loaded here, and reports its own
    error."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._read = pool.submit(_read_aside)

    @classmethod
    def start(cls, path: str, pack: RulePack) -> LedgerAside | None:
        """The forked reader, or None when no process can be started (then the ledger
        is simply read here)."""
        try:
            pool = _forked_pool(1, _keep_aside, (path, pack))
        except OSError:
            return None
        try:
            return cls(pool)
        except OSError:
            _stop(pool)
            return None

    def result(self) -> Any:
        try:
            return self._read.result()
        except Exception:  # the ledger is loaded again, here
            return None

    def close(self) -> None:
        _stop(self._pool)


#: Files smaller than this are not worth cutting into parts, nor inputs smaller than this
#: worth a pool of processes when the number of jobs is automatic.
SPLIT_MIN_BYTES = 1 << 26


#: At most this many processes when the number of jobs is automatic.
MAX_AUTO_JOBS = 8


#: Files are grouped into units of at most about this many bytes (a unit's findings
#: travel back from a worker at once; a Dask worker keeps them in memory until then).
UNIT_MAX_BYTES = 1 << 26


#: Over several processes, each gets about this many units of the grouped files, so
#: that one slow unit does not leave the others idle.
UNITS_PER_PROCESS = 4


def jobs_for(files: list[Path], jobs: int) -> int:
    """The processes to scan ``files`` in: ``jobs`` when given; else (0) one per usable
    core once the inputs reach `SPLIT_MIN_BYTES`, where a pool pays for its start."""
    if jobs > 0:
        return jobs
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    total = sum(file_size(path) for path in files)
    if total < SPLIT_MIN_BYTES:
        return 1
    return max(1, min(usable_cores(), MAX_AUTO_JOBS))


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def plan(files: list[Path], parts: int, stored: Sequence[Path] = ()) -> list[Unit]:
    """:func:`plan_stage` of the inputs, then of the ``--stored`` inputs (units of one
    stage each: a unit's rules are those of its stage)."""
    units = plan_stage(files, parts)
    if stored:
        units += [unit._replace(stage=Stage.STORED) for unit in plan_stage(list(stored), parts)]
    return units


def plan_stage(files: list[Path], parts: int) -> list[Unit]:
    """Units of work, in input order: a large file cut into ``parts`` ranges is a unit
    per range; the other files are grouped, one after another, into units whose files
    share chunks (per-file work is then only reading). Each group holds up to
    `UNIT_MAX_BYTES`, and over several processes about ``1/UNITS_PER_PROCESS`` of a
    process's share, so that the work still spreads."""
    cuts = [split(path, parts, SPLIT_MIN_BYTES) if parts > 1 else None for path in files]
    sizes = [file_size(path) for path in files]
    budget = UNIT_MAX_BYTES
    if parts > 1:
        grouped = sum(size for size, cut in zip(sizes, cuts, strict=True) if not cut)
        budget = max(1, min(budget, grouped // (parts * UNITS_PER_PROCESS)))
    units: list[Unit] = []
    group: list[Path] = []
    held = 0
    for path, size, cut in zip(files, sizes, cuts, strict=True):
        if cut:
            if group:
                units.append(Unit(tuple(group)))
                group, held = [], 0
            units.extend(Unit((path,), part) for part in cut)
            continue
        group.append(path)
        held += size
        if held >= budget:
            units.append(Unit(tuple(group)))
            group, held = [], 0
    if group:
        units.append(Unit(tuple(group)))
    return units


def scan_locally(files: list[Path], ctx: ScanContext, states: dict[str, RuleState],
                  options: ScanOptions, scratch: str, stored: Sequence[Path] = ()
                  ) -> Iterator[UnitResult]:
    """The pandas engine: chunks streamed, one progress bar; with ``jobs`` > 1 the units
    run in that many forked processes, which share the loaded context copy-on-write."""
    progress = _progress(options, files)
    units = plan(files, options.jobs, stored)
    try:
        if options.jobs <= 1 or len(units) == 1:
            # One process: a spare core reads the next batch while this one is checked.
            ahead = usable_cores() > 1
            results = (scan_file(unit.files, ctx, states, options.chunk_rows, progress.update,
                                 unit.part, scratch, ahead=ahead, stage=unit.stage)
                       for unit in units)
            yield from merge_parts(units, results)
            return
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        global _FORKED
        _FORKED = (ctx, states, options.chunk_rows, scratch)
        # A cut file's digest is taken here while the workers scan its parts (reading
        # and hashing release the GIL), not by the worker of its first part.
        cut = list(dict.fromkeys(unit.files[0] for unit in units if unit.part is not None))
        pool = _forked_pool(options.jobs, _worker_setup)
        try:
            with ThreadPoolExecutor(1) as hasher:
                digests = {printable(path): hasher.submit(sha256_of, path) for path in cut}

                def counted() -> Iterator[UnitResult]:
                    try:
                        for result in pool.map(_scan_forked, units):
                            progress.update(sum(info.records for info in result.inputs))
                            yield result
                    except BrokenProcessPool:
                        raise AuditError(
                            "a scanning process ended abruptly (out of memory?); "
                            "try fewer processes (--jobs) or smaller chunks (--chunk-rows)"
                        ) from None

                for result in merge_parts(units, counted()):
                    result.inputs = [replace(info, sha256=digests[info.path].result())
                                     if info.path in digests else info
                                     for info in result.inputs]
                    yield result
        finally:
            _stop(pool)
    finally:
        _FORKED = None  # the context is not kept alive by a finished (or failed) scan
        progress.close()


_FORKED: tuple[ScanContext, dict[str, RuleState], int, str] | None = None


def _worker_setup() -> None:
    """Once in each forked worker: Arrow runs one thread, as the processes share the
    cores and its threads would only contend."""
    pa.set_cpu_count(1)


def _scan_forked(unit: Unit) -> UnitResult:
    """In a forked worker: scan one unit with the parent's context."""
    assert _FORKED is not None
    ctx, states, chunk_rows, scratch = _FORKED
    return scan_file(unit.files, ctx, states, chunk_rows, None, unit.part, scratch,
                     digest=unit.part is None, stage=unit.stage)


class _NoProgress:
    def update(self, n: int) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def _progress(options: ScanOptions, files: list[Path]) -> Any:
    """A records-per-second bar on a terminal; nothing when quiet or piped."""
    import sys

    if options.quiet or not sys.stderr.isatty():
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=None, unit=" records", unit_scale=True, desc="scanning", file=sys.stderr,
                leave=False, dynamic_ncols=True)
