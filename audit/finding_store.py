"""Findings kept as Arrow record batches, on disk once there are many.

A dump with millions of violations must not make the scan's memory grow with
it: a :class:`~audit.model.Finding` object costs about half a kilobyte, the same
finding as a row of an Arrow batch a fraction of that, and on disk nothing.
Each chunk's findings are sorted (line, rule, field) and appended to a
:class:`RunWriter`, so one file's runs read back in report order; once a scan
holds more than :data:`SPILL_AFTER` rows they go to Arrow IPC files in the
scan's temporary folder. The report's findings are a :class:`FindingStore`, a
read-only sequence that turns one batch at a time back into findings.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, overload

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

FIELDS = ("rule", "category", "severity", "source", "line", "field", "message", "evidence",
          "fingerprint", "detector", "explanation", "baseline")
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
    """Findings → one record batch."""
    columns: dict[str, list[Any]] = {name: [] for name in FIELDS}
    for f in findings:
        for name in FIELDS:
            columns[name].append(getattr(f, name))
    columns["severity"] = [s.value for s in columns["severity"]]
    columns["baseline"] = [b.value for b in columns["baseline"]]
    return pa.RecordBatch.from_pydict(columns, schema=schema())


def from_batch(batch: pa.RecordBatch) -> list[Finding]:
    """One record batch → findings (the inverse of :func:`to_batch`)."""
    columns = batch.to_pydict()
    rows = zip(*(columns[name] for name in FIELDS), strict=True)
    return [
        Finding(rule=rule, category=category, severity=_SEVERITIES[severity], source=source,
                line=line, field=field_name, message=message, evidence=evidence,
                fingerprint=fingerprint, detector=detector, explanation=explanation,
                baseline=_BASELINES[baseline])
        for (rule, category, severity, source, line, field_name, message, evidence,
             fingerprint, detector, explanation, baseline) in rows
    ]


def new_file(folder: str, suffix: str) -> str:
    """A new empty file in ``folder`` (its name is unique)."""
    handle, path = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(handle)
    return path


class ScratchDir:
    """The scan's temporary folder, removed when the last object using it is gone."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="telemetry-audit-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.path, True)

    def new_file(self, suffix: str) -> str:
        return new_file(self.path, suffix)

    def remove(self) -> None:
        self._cleanup()


@dataclass(slots=True)
class Run:
    """Findings in report order: Arrow batches held in memory, or a spilled stream file
    (picklable either way, so a worker process can hand it back)."""

    rows: int = 0
    batches: list[pa.RecordBatch] = field(default_factory=list)
    path: str | None = None

    def __iter__(self) -> Iterator[Finding]:
        for batch in self._batches():
            yield from from_batch(batch)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        if self.path is None:
            yield from self.batches
            return
        with pa.OSFile(self.path) as source:
            yield from ipc.open_stream(source)

    def spill(self, scratch: ScratchDir) -> None:
        """Move the batches held in memory to a file of the scratch folder."""
        if self.path is not None or not self.batches:
            return
        self.path = scratch.new_file(".arrows")
        with ipc.new_stream(self.path, schema()) as sink:
            for batch in self.batches:
                sink.write_batch(batch)
        self.batches = []


class RunWriter:
    """Collects one file's (or part's) findings chunk by chunk into a :class:`Run`."""

    def __init__(self, scratch_path: str | None) -> None:
        self._scratch_path = scratch_path
        self._pending: list[Finding] = []
        self._run = Run()
        self._sink: Any = None

    def add(self, findings: Iterable[Finding]) -> None:
        """One chunk's findings: sorted here, after everything added before."""
        self._pending.extend(sorted(findings, key=report_order))
        if len(self._pending) >= BATCH_ROWS:
            self._flush()

    def close(self) -> Run:
        self._flush()
        if self._sink is not None:
            self._sink.close()
        return self._run

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = to_batch(self._pending)
        self._pending = []
        run = self._run
        run.rows += batch.num_rows
        if self._sink is None and self._scratch_path and run.rows > SPILL_AFTER:
            run.path = new_file(self._scratch_path, ".arrows")
            self._sink = ipc.new_stream(run.path, schema())
            for held in run.batches:
                self._sink.write_batch(held)
            run.batches = []
        if self._sink is not None:
            self._sink.write_batch(batch)
        else:
            run.batches.append(batch)


class RunSpool:
    """Every run of a scan, by input file; runs still in memory are spilled together
    once they hold more than :data:`SPILL_AFTER` rows (many small files add up)."""

    def __init__(self, scratch: ScratchDir) -> None:
        self._scratch = scratch
        self._runs: dict[str, list[Run]] = {}
        self._held = 0

    def add(self, source: str, runs: Iterable[Run]) -> None:
        for run in runs:
            self._runs.setdefault(source, []).append(run)
            if run.path is None:
                self._held += run.rows
        if self._held > SPILL_AFTER:
            for held in self._runs.values():
                for run in held:
                    run.spill(self._scratch)
            self._held = 0

    def findings(self, source: str) -> Iterator[Finding]:
        """One input file's findings, in report order."""
        for run in self._runs.get(source, ()):
            yield from run

    def close(self) -> None:
        """Delete the spilled runs: the store has its own copy by now."""
        for runs in self._runs.values():
            for run in runs:
                if run.path is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(run.path)
        self._runs.clear()


class FindingStore(Sequence[Finding]):
    """The report's findings: a read-only sequence over Arrow batches, in memory or in
    an Arrow file read one batch at a time (never all at once)."""

    def __init__(self, batches: list[pa.RecordBatch], path: str | None,
                 scratch: ScratchDir | None) -> None:
        self._batches = batches
        self._path = path
        self._scratch = scratch  # keeps the folder alive as long as the store
        sizes = [b.num_rows for b in batches] if path is None else _file_sizes(path)
        self._starts = [0]
        for size in sizes:
            self._starts.append(self._starts[-1] + size)
        self._cached: tuple[int, list[Finding]] | None = None

    @property
    def spilled(self) -> bool:
        return self._path is not None

    def __len__(self) -> int:
        return self._starts[-1]

    def __iter__(self) -> Iterator[Finding]:
        for number in range(len(self._starts) - 1):
            yield from self._batch(number)

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
        import bisect

        number = bisect.bisect_right(self._starts, index) - 1
        return self._batch(number)[index - self._starts[number]]

    def _batch(self, number: int) -> list[Finding]:
        if self._cached is not None and self._cached[0] == number:
            return self._cached[1]
        if self._path is None:
            batch = self._batches[number]
        else:
            with pa.OSFile(self._path) as source:
                batch = ipc.open_file(source).get_batch(number)
        findings = from_batch(batch)
        self._cached = (number, findings)
        return findings

    def __repr__(self) -> str:
        where = f"in {self._path}" if self._path else "in memory"
        return f"<FindingStore of {len(self)} findings {where}>"


def _file_sizes(path: str) -> list[int]:
    with pa.OSFile(path) as source:
        reader = ipc.open_file(source)
        return [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]


class StoreWriter:
    """Builds a :class:`FindingStore` from findings given in report order."""

    def __init__(self, scratch: ScratchDir) -> None:
        self._scratch = scratch
        self._pending: list[Finding] = []
        self._batches: list[pa.RecordBatch] = []
        self._rows = 0
        self._path: str | None = None
        self._sink: Any = None

    def add(self, finding: Finding) -> None:
        self._pending.append(finding)
        if len(self._pending) >= BATCH_ROWS:
            self._flush()

    def close(self) -> FindingStore:
        self._flush()
        if self._sink is not None:
            self._sink.close()
        return FindingStore(self._batches, self._path, self._scratch if self._path else None)

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = to_batch(self._pending)
        self._pending = []
        self._rows += batch.num_rows
        if self._sink is None and self._rows > SPILL_AFTER:
            self._path = self._scratch.new_file(".arrow")
            self._sink = ipc.new_file(self._path, schema())
            for held in self._batches:
                self._sink.write_batch(held)
            self._batches = []
        if self._sink is not None:
            self._sink.write_batch(batch)
        else:
            self._batches.append(batch)
