"""The Dask engine: the same scan, run on a dask.distributed cluster.

A unit of work is one partition: small files grouped so that they share chunks, or one
part of a large JSON Lines or Parquet file (cut into one part per worker), as
:func:`audit.parallel.plan` makes them. Each worker reads, normalises and checks its unit
with exactly the code the pandas engine uses (:func:`audit.units.scan_file`)
and sends back findings, counts and the small per-rule state; the driver
merges the states, so cross-record rules (a DeviceID shared by many users) see
every partition's aggregate. With no ``--scheduler`` a local cluster is started
with ``--workers`` processes (one per core by default).

Workers must see the input files, the rule directory, ledger and identities at
the same paths as the driver (a shared file system, or one machine).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from audit.errors import UsageError

if TYPE_CHECKING:
    from dask.distributed import Client, Future, LocalCluster

    from audit.context import ScanContext
    from audit.options import ScanOptions
    from audit.rule_states import RuleState
    from audit.units import Unit, UnitResult

_CONTEXTS: dict[ScanOptions, ScanContext] = {}


def _scan_one(unit: Unit, options: ScanOptions, states: dict[str, RuleState]) -> UnitResult:
    """On a worker: load the context once per scan, then scan one unit (files, or a
    part of one)."""
    from audit.engine import prepare
    from audit.units import scan_file

    ctx = _CONTEXTS.get(options)
    if ctx is None:
        _CONTEXTS.clear()
        ctx = _CONTEXTS[options] = prepare(options)
    return scan_file(unit.files, ctx, states, options.chunk_rows, None, unit.part,
                     stage=unit.stage)


def scan_files(files: Sequence[Path], options: ScanOptions, states: dict[str, RuleState],
               stored: Sequence[Path] = ()) -> tuple[list[Unit], Iterator[UnitResult]]:
    """Scan every file on the cluster (small files grouped, large JSON Lines and Parquet
    files cut into one part per worker), the ``--stored`` ones as the stored stage; the
    units, and their results as they are taken in input order."""
    from audit.parallel import plan, usable_cores

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--engine dask needs the dask extra: pip install "
                         "'telemetry-audit[dask]'") from None
    cluster = None
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="10s")
        except OSError as exc:
            raise UsageError(f"cannot reach the dask scheduler {options.scheduler}: {exc}"
                             ) from None
    else:
        workers = options.workers or usable_cores()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        workers = len(client.scheduler_info().get("workers", {})) or 1
        units = plan(list(files), workers, stored)
        futures = client.map(_scan_one, units, options=options, states=states, pure=False)
    except BaseException:
        _close(client, cluster)
        raise
    return units, _taken(futures, client, cluster)


def _taken(futures: list[Future], client: Client, cluster: LocalCluster | None
           ) -> Iterator[UnitResult]:
    """Results one at a time, in order, each released on the cluster once taken: the
    driver holds one unit's findings at a time, not the whole scan's."""
    try:
        futures.reverse()
        while futures:
            future = futures.pop()
            yield future.result()
            future.release()
    finally:
        _close(client, cluster)


def _close(client: Client, cluster: LocalCluster | None) -> None:
    client.close()
    if cluster is not None:
        cluster.close()
