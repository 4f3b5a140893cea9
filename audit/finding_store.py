"""Findings kept as Arrow record batches, on disk once there are many.

A dump with millions of violations must not make the scan's memory grow with
it: a :class:`~audit.model.Finding` object costs about half a kilobyte, the same
finding as a row of an Arrow batch a fraction of that, and on disk nothing.
Each chunk's findings are sorted (input, line, rule, field) and appended to a
:class:`RunWriter`, so a scan's runs read back in report order; once a scan
holds more than :data:`SPILL_AFTER` rows they go to Arrow IPC files in the
scan's temporary folder. The report's findings are a :class:`FindingStore`, a
read-only sequence that turns one batch at a time back into findings.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, overload

from audit.errors import AuditError
from audit.lazy import lazy
from audit.model import BaselineStatus, Finding, Severity

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.ipc as ipc
else:
    pa = lazy("pyarrow")
    ipc = lazy("pyarrow.ipc")

#: Rows held in memory before a writer moves them to disk.
SPILL_AFTER = 50_000
#: Rows per Arrow batch: what is turned back into Python objects at a time.
BATCH_ROWS = 8_192

FIELDS = ("rule", "category", "severity", "source", "line", "location", "field", "message",
          "evidence", "fingerprint", "detector", "explanation", "baseline")
_UNLOCATED = [name for name in FIELDS if name != "location"]
_SEVERITIES = {s.value: s for s in Severity}
_BASELINES = {b.value: b for b in BaselineStatus}


@lru_cache(maxsize=1)
def schema() -> pa.Schema:
    """One column per :class:`Finding` field; enums as their values."""
    return pa.schema([(name, pa.int64() if name == "line" else pa.string()) for name in FIELDS])


def report_order(finding: Finding) -> tuple[int, str, str]:
    """The order of findings within one input file."""
    return finding.line, finding.rule, finding.field or ""


def to_batch(findings: Sequence[Finding]) -> pa.RecordBatch:
    """Findings → one record batch: one row per :meth:`Finding.to_dict`."""
    return pa.RecordBatch.from_pylist([f.to_dict() for f in findings], schema=schema())


def batch_of(columns: Mapping[str, Any]) -> pa.RecordBatch:
    """Finding columns (one list or array per field, enums as their values) → a batch."""
    return pa.RecordBatch.from_pydict(dict(columns), schema=schema())


def from_batch(batch: pa.RecordBatch) -> list[Finding]:
    """One record batch → findings (the inverse of :func:`to_batch`)."""
    columns = batch.to_pydict()
    rows = zip(*(columns[name] for name in FIELDS), strict=True)
    return [
        Finding(rule=rule, category=category, severity=_SEVERITIES[severity], source=source,
                line=line, location=location, field=field_name, message=message,
                evidence=evidence, fingerprint=fingerprint, detector=detector,
                explanation=explanation, baseline=_BASELINES[baseline])
        for (rule, category, severity, source, line, location, field_name, message, evidence,
             fingerprint, detector, explanation, baseline) in rows
    ]


def merge_late(batches: Iterable[pa.RecordBatch], late: Sequence[Finding]
               ) -> Iterator[pa.RecordBatch]:
    """Batches in report order with ``late`` findings (sorted) merged in, as
    ``heapq.merge(rows, late, key=report_order)`` would: Arrow sorts a batch together
    with the late findings that fall into it; a batch out of order (records sharing a
    line across chunks) is merged finding by finding."""
    pending = list(reversed(late))  # next one last
    for batch in batches:
        if pending and batch.num_rows:
            if _in_order(batch):
                last = report_order(from_batch(batch.slice(batch.num_rows - 1))[0])
                into: list[Finding] = []
                while pending and report_order(pending[-1]) < last:
                    into.append(pending.pop())
                if into:
                    batch = _sorted(pa.Table.from_batches([batch, to_batch(into)]))
            else:
                rows: list[Finding] = []
                for row in from_batch(batch):
                    key = report_order(row)
                    while pending and report_order(pending[-1]) < key:
                        rows.append(pending.pop())
                    rows.append(row)
                batch = to_batch(rows)
        yield batch
    rest = pending[::-1]
    for start in range(0, len(rest), BATCH_ROWS):
        yield to_batch(rest[start:start + BATCH_ROWS])


def _order_columns(data: pa.Table | pa.RecordBatch) -> list[Any]:
    import pyarrow.compute as pc

    return [data.column("line"), data.column("rule"), pc.fill_null(data.column("field"), "")]


def _in_order(batch: pa.RecordBatch) -> bool:
    """Whether the batch's rows are in report order (each key at most the next)."""
    import pyarrow.compute as pc

    if batch.num_rows < 2:
        return True
    a = [c.slice(0, batch.num_rows - 1) for c in _order_columns(batch)]
    b = [c.slice(1) for c in _order_columns(batch)]
    # a <= b on (line, rule, field), compared column by column from the last.
    le = pc.less_equal(a[2], b[2])
    for i in (1, 0):
        le = pc.or_(pc.less(a[i], b[i]), pc.and_(pc.equal(a[i], b[i]), le))
    return bool(pc.all(le).as_py())


def _sorted(table: pa.Table, sources: Sequence[str] = ()) -> pa.RecordBatch:
    """The rows in report order, by their input's position in ``sources`` first when
    they come from several; equal keys keep their order (the batch's rows first)."""
    import pyarrow.compute as pc

    line, rule, field_key = _order_columns(table)
    keys = {"line": line, "rule": rule, "field": field_key}
    if len(sources) > 1:
        keys = {"input": pc.index_in(table.column("source"),
                                     value_set=pa.array(sources, type=pa.string())), **keys}
    order = pc.sort_indices(pa.table(keys), sort_keys=[(k, "ascending") for k in keys])
    return table.take(order).combine_chunks().to_batches()[0]


def by_source(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Batches cut where their input changes: (input, a slice holding only its findings),
    in order. Runs hold the findings of an input together, so a cut is rare."""
    import numpy as np
    import pyarrow.compute as pc

    for batch in batches:
        if not batch.num_rows:
            continue
        sources = batch.column("source")
        if batch.num_rows == 1 or pc.all(pc.equal(sources, sources[0])).as_py():
            yield sources[0].as_py(), batch
            continue
        changed = pc.not_equal(sources.slice(1), sources.slice(0, batch.num_rows - 1))
        starts = [0, *(np.flatnonzero(changed.to_numpy(zero_copy_only=False)) + 1).tolist()]
        for start, stop in zip(starts, [*starts[1:], batch.num_rows], strict=True):
            yield sources[start].as_py(), batch.slice(start, stop - start)


@dataclass(frozen=True, slots=True)
class MarkLookup:
    """Baseline marks ((rule, fingerprint) → status) as Arrow arrays, built once per scan
    rather than once per batch."""

    keys: Any
    statuses: Any

    @classmethod
    def of(cls, marks: Mapping[tuple[str, str], BaselineStatus]) -> MarkLookup:
        return cls(pa.array([f"{rule}\x00{fingerprint}" for rule, fingerprint in marks],
                            type=pa.string()),
                   pa.array([status.value for status in marks.values()], type=pa.string()))


def with_marks(batch: pa.RecordBatch,
               marks: MarkLookup | Mapping[tuple[str, str], BaselineStatus]) -> pa.RecordBatch:
    """The batch with each finding's baseline column set from ``marks`` ((rule,
    fingerprint) → status; ``active`` where absent), looked up in Arrow."""
    import pyarrow.compute as pc

    lookup = marks if isinstance(marks, MarkLookup) else MarkLookup.of(marks)
    keys = pc.binary_join_element_wise(batch.column("rule"), batch.column("fingerprint"),
                                       "\x00")
    marked = pc.fill_null(pc.take(lookup.statuses, pc.index_in(keys, value_set=lookup.keys)),
                          BaselineStatus.ACTIVE.value)
    return batch.set_column(FIELDS.index("baseline"), "baseline", marked)


@contextlib.contextmanager
def scratch_errors(folder: str | None) -> Iterator[None]:
    """A full disk or an unwritable ``TMPDIR`` is an audit error (exit 2) naming the
    folder, not a traceback."""
    try:
        yield
    except OSError as exc:
        what = getattr(exc, "strerror", None) or str(exc)
        raise AuditError(f"cannot keep findings in the scratch folder: {what} (set TMPDIR "
                         "to a folder with room)", path=folder or tempfile.gettempdir()
                         ) from None


def _spill_to(folder: str, batches: Iterable[pa.RecordBatch]) -> tuple[str, Any]:
    """A new Arrow file in ``folder`` holding ``batches``, left open for more."""
    with scratch_errors(folder):
        handle, path = tempfile.mkstemp(suffix=".arrow", dir=folder)
        os.close(handle)
        sink = ipc.new_file(path, schema())
        for batch in batches:
            sink.write_batch(batch)
    return path, sink


class ScratchDir:
    """The scan's temporary folder, removed when the last object using it is gone."""

    def __init__(self) -> None:
        with scratch_errors(None):
            self.path = tempfile.mkdtemp(prefix="telemetry-audit-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.path, True)

    def remove(self) -> None:
        self._cleanup()


@dataclass(slots=True)
class Run:
    """Findings in report order as Arrow batches, held in memory or in an Arrow file
    (picklable either way, so a worker process can hand it back)."""

    sizes: list[int] = field(default_factory=list)
    batches: list[pa.RecordBatch] = field(default_factory=list)
    path: str | None = None

    @property
    def rows(self) -> int:
        return sum(self.sizes)

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """The run's batches in order (a spilled run's file opened once)."""
        if self.path is None:
            yield from self.batches
            return
        folder = os.path.dirname(self.path)
        with scratch_errors(folder), pa.OSFile(self.path) as source:
            reader = ipc.open_file(source)
            for number in range(reader.num_record_batches):
                with scratch_errors(folder):
                    batch = reader.get_batch(number)
                yield batch

    def batch(self, number: int) -> pa.RecordBatch:
        if self.path is None:
            return self.batches[number]
        with scratch_errors(os.path.dirname(self.path)), pa.OSFile(self.path) as source:
            return ipc.open_file(source).get_batch(number)

    def spill(self, folder: str) -> None:
        """Move the batches held in memory to a new file in ``folder``."""
        if self.path is not None or not self.batches:
            return
        self.path, sink = _spill_to(folder, self.batches)
        with scratch_errors(folder):
            sink.close()
        self.batches = []


class RunWriter:
    """Builds a :class:`Run` from batches of findings added in order (or chunk by chunk,
    each chunk sorted here), moving it to a file in ``folder`` once it holds more than
    :data:`SPILL_AFTER` rows; without a folder it stays in memory."""

    def __init__(self, folder: str | None) -> None:
        self._folder = folder
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._run = Run()
        self._sink: Any = None

    def add_chunk(self, batches: Iterable[pa.RecordBatch], sources: Sequence[str] = ()
                  ) -> None:
        """One chunk's findings, rows in any order: sorted into report order here (a
        stable sort: equal keys keep their order), inputs in the order of ``sources``
        when the chunk holds several; they follow everything added before."""
        parts = [b for b in batches if b.num_rows]
        if parts:
            self._hold(_sorted(pa.Table.from_batches(parts, schema=schema()), sources))

    def add_batch(self, batch: pa.RecordBatch) -> None:
        """Findings already in order: they follow everything added before."""
        if batch.num_rows:
            self._hold(batch)

    def _hold(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= BATCH_ROWS:
            self._flush()

    def close(self) -> Run:
        self._flush()
        if self._sink is not None:
            with scratch_errors(self._folder):
                self._sink.close()
        return self._run

    def _flush(self) -> None:
        if not self._pending:
            return
        held, self._pending, self._pending_rows = self._pending, [], 0
        self._append(held[0] if len(held) == 1 else
                     pa.Table.from_batches(held).combine_chunks().to_batches()[0])

    def _append(self, batch: pa.RecordBatch) -> None:
        run = self._run
        run.sizes.append(batch.num_rows)
        if self._sink is None and self._folder and run.rows > SPILL_AFTER:
            run.path, self._sink = _spill_to(self._folder, run.batches)
            run.batches = []
        if self._sink is not None:
            with scratch_errors(self._folder):
                self._sink.write_batch(batch)
        else:
            run.batches.append(batch)


class RunSpool:
    """Every run of a scan, in the order added (the inputs' order); runs still in memory
    are spilled together once they hold more than :data:`SPILL_AFTER` rows (many small
    units add up)."""

    def __init__(self, scratch: ScratchDir) -> None:
        self._scratch = scratch
        self._runs: list[Run] = []
        self._held = 0

    def add(self, runs: Iterable[Run]) -> None:
        for run in runs:
            self._runs.append(run)
            if run.path is None:
                self._held += run.rows
        if self._held > SPILL_AFTER:
            for run in self._runs:
                run.spill(self._scratch.path)
            self._held = 0

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every run's findings as batches, in the order the runs were added."""
        for run in self._runs:
            yield from run.iter_batches()

    def close(self) -> None:
        """Delete the spilled runs: the store has its own copy by now."""
        for run in self._runs:
            if run.path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(run.path)
        self._runs.clear()


@dataclass(slots=True)
class RuleDigest:
    """What a report shows of one rule's findings without listing them all."""

    total: int = 0  #: findings of the rule
    active: int = 0  #: of them, not suppressed by the baseline
    #: active findings per severity value
    severities: dict[str, int] = field(default_factory=dict)
    #: the first findings in report order (capped; active ones only, if asked)
    rows: list[Finding] = field(default_factory=list)


def digest_by_rule(findings: Sequence[Finding], cap: int, *, active_rows: bool = False
                   ) -> dict[str, RuleDigest]:
    """Per rule: counts and the first ``cap`` findings (active ones only with
    ``active_rows``). A :class:`FindingStore` is read in Arrow,
    and only the rows kept become findings; any other sequence is read one by one."""
    if isinstance(findings, FindingStore):
        return findings.digest_by_rule(cap, active_rows=active_rows)
    out: dict[str, RuleDigest] = {}
    for finding in findings:
        digest = out.get(finding.rule)
        if digest is None:
            digest = out[finding.rule] = RuleDigest()
        digest.total += 1
        active = finding.baseline is not BaselineStatus.SUPPRESSED
        if active:
            digest.active += 1
            severity = finding.severity.value
            digest.severities[severity] = digest.severities.get(severity, 0) + 1
        if len(digest.rows) < cap and (active or not active_rows):
            digest.rows.append(finding)
    return out


def finding_dicts(findings: Sequence[Finding]) -> Iterator[dict[str, Any]]:
    """Each finding as :meth:`Finding.to_dict` gives it; a :class:`FindingStore`'s rows
    come straight from its batches (the columns are those fields, in that order)."""
    if isinstance(findings, FindingStore):
        yield from findings.dicts()
    else:
        for finding in findings:
            yield finding.to_dict()


def most_severe(findings: Sequence[Finding], n: int) -> list[Finding]:
    """The ``n`` most severe active findings, then by rule and line (equal ones in report
    order). A :class:`FindingStore` is sorted in Arrow, batch by batch."""
    if isinstance(findings, FindingStore):
        return findings.most_severe(n)
    return heapq.nsmallest(n, (f for f in findings if f.baseline is not
                               BaselineStatus.SUPPRESSED),
                           key=lambda f: (-f.severity.rank, f.rule, f.line))


class FindingStore(Sequence[Finding]):
    """The report's findings: a read-only sequence over one :class:`Run`, turned back
    into findings one batch at a time (never all at once)."""

    def __init__(self, run: Run, scratch: ScratchDir | None = None) -> None:
        self._run = run
        self._scratch = scratch  # a spilled run's folder lives as long as the store
        self._starts = [0]
        for size in run.sizes:
            self._starts.append(self._starts[-1] + size)
        self._cached: tuple[int, list[Finding]] | None = None

    @property
    def spilled(self) -> bool:
        return self._run.path is not None

    def __len__(self) -> int:
        return self._starts[-1]

    def __iter__(self) -> Iterator[Finding]:
        for batch in self._run.iter_batches():  # a spilled file is opened once
            yield from from_batch(batch)

    @overload
    def __getitem__(self, index: int) -> Finding: ...

    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...

    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("finding index out of range")
        number = bisect.bisect_right(self._starts, index) - 1
        return self._batch(number)[index - self._starts[number]]

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The findings as Arrow batches (the columns of :func:`schema`), in order: for a
        report that filters or counts most of them without making each an object."""
        return self._run.iter_batches()

    def dicts(self) -> Iterator[dict[str, Any]]:
        """:func:`finding_dicts`: the batches' rows, which are the findings' fields (a
        ``location`` only where there is one, as :meth:`Finding.to_dict` gives it)."""
        for batch in self._run.iter_batches():
            if batch.column("location").null_count == batch.num_rows:
                yield from batch.select(_UNLOCATED).to_pylist()
                continue
            for row in batch.to_pylist():
                if row["location"] is None:
                    del row["location"]
                yield row

    def digest_by_rule(self, cap: int, *, active_rows: bool = False
                       ) -> dict[str, RuleDigest]:
        """:func:`digest_by_rule`, counted on Arrow columns batch by batch."""
        import numpy as np
        import pyarrow.compute as pc

        out: dict[str, RuleDigest] = {}
        for batch in self._run.iter_batches():
            rule = batch.column("rule")
            active = pc.not_equal(batch.column("baseline"), BaselineStatus.SUPPRESSED.value)
            for item in pc.value_counts(rule).to_pylist():
                out.setdefault(item["values"], RuleDigest()).total += item["counts"]
            kept = pa.table({"rule": rule.filter(active),
                             "severity": batch.column("severity").filter(active)})
            counted = kept.group_by(["rule", "severity"]).aggregate([("rule", "count")])
            for name, severity, n in zip(counted.column("rule").to_pylist(),
                                         counted.column("severity").to_pylist(),
                                         counted.column("rule_count").to_pylist(), strict=True):
                digest = out[name]
                digest.active += n
                digest.severities[severity] = digest.severities.get(severity, 0) + n
            wanted = {name: cap - len(d.rows) for name, d in out.items() if len(d.rows) < cap}
            if not wanted:
                continue
            mask = pc.is_in(rule, value_set=pa.array(list(wanted), type=pa.string()))
            if active_rows:
                mask = pc.and_(mask, active)
            rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
            take: list[int] = []
            for row, name in zip(rows.tolist(), rule.take(pa.array(rows)).to_pylist(),
                                 strict=True):
                if wanted[name] > 0:
                    wanted[name] -= 1
                    take.append(row)
            for finding in from_batch(batch.take(pa.array(take, type=pa.int64()))):
                out[finding.rule].rows.append(finding)
        return out

    def most_severe(self, n: int) -> list[Finding]:
        """:func:`most_severe`: the best ``n`` so far, sorted with each batch's (a stable
        sort, earlier rows first)."""
        import pyarrow.compute as pc

        worst_first = pa.array([s.value for s in sorted(Severity, key=lambda s: -s.rank)])
        best: pa.Table | None = None
        for batch in self._run.iter_batches():
            active = pc.not_equal(batch.column("baseline"), BaselineStatus.SUPPRESSED.value)
            table = pa.Table.from_batches([batch.filter(active)])
            if best is not None:
                table = pa.concat_tables([best, table])
            keys = pa.table({"severity": pc.index_in(table.column("severity"),
                                                     value_set=worst_first),
                             "rule": table.column("rule"), "line": table.column("line")})
            order = pc.sort_indices(keys, sort_keys=[("severity", "ascending"),
                                                     ("rule", "ascending"),
                                                     ("line", "ascending")])
            best = table.take(order.slice(0, n))
        if best is None or not best.num_rows:
            return []
        return [f for b in best.combine_chunks().to_batches() for f in from_batch(b)]

    def _batch(self, number: int) -> list[Finding]:
        if self._cached is None or self._cached[0] != number:
            self._cached = (number, from_batch(self._run.batch(number)))
        return self._cached[1]

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same findings in the same order (a tuple too)."""
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = f"in {self._run.path}" if self.spilled else "in memory"
        return f"<FindingStore of {len(self)} findings {where}>"
