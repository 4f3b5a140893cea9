"""A unit of work: files (or one part of a large file) read, normalised and checked,
the same code for every engine (one process, forked workers, Dask workers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from audit.checking import check_chunk
from audit.chunks import iter_chunks
from audit.context import ScanContext
from audit.finding_store import Run, RunWriter
from audit.findings import malformed_batch
from audit.fingerprint import printable
from audit.locations import entry_infos
from audit.model import InputInfo, Stage
from audit.readers import EntrySpan, Part, reader_for, sha256_of
from audit.rule_states import RuleState


@dataclass(slots=True)
class UnitResult:
    """Everything one unit of work (files, or a part of one file) contributes: its
    findings as runs in report order (input, line, rule, field), an InputInfo per file,
    rule states."""

    runs: list[Run]
    inputs: list[InputInfo]
    states: dict[str, RuleState]
    #: day (YYYY-MM-DD of the event time) -> [events, findings of per-record rules]
    days: Counter[str] = field(default_factory=Counter)
    findings_by_day: Counter[str] = field(default_factory=Counter)


class Unit(NamedTuple):
    """A unit of work: files read one after another into shared chunks, or one part of
    one large file (``part``)."""

    files: tuple[Path, ...]
    part: Part | None = None
    #: the stage its files are read as, when not the scan's ``--stage`` (``--stored``)
    stage: Stage | None = None


def merge_parts(units: list[Unit], results: Iterable[UnitResult]) -> Iterator[UnitResult]:
    """The results in order, the parts of a cut file folded into one."""
    current: UnitResult | None = None
    for unit, result in zip(units, results, strict=True):
        if current is not None and unit.part is not None and unit.part.start > 0 \
                and current.inputs[-1].path == result.inputs[0].path:
            current.runs.extend(result.runs)
            current.days.update(result.days)
            current.findings_by_day.update(result.findings_by_day)
            for rule_id, state in result.states.items():
                current.states[rule_id].merge(state)
            whole, more = current.inputs[-1], result.inputs[0]
            current.inputs[-1] = replace(whole, records=whole.records + more.records,
                                         rejected=whole.rejected + more.rejected)
            continue
        if current is not None:
            yield current
        current = result
    if current is not None:
        yield current


def scan_file(paths: Path | Sequence[Path], ctx: ScanContext,
              open_states: dict[str, RuleState], chunk_rows: int, advance: Any = None,
              part: Part | None = None, scratch: str | None = None, digest: bool = True,
              ahead: bool = False, stage: Stage | None = None) -> UnitResult:
    """Scan one input file, one part of it (``part``), or files read one after another
    into shared chunks, chunk by chunk: the unit of work of both engines. Findings
    beyond a few thousand go to a file in ``scratch`` when given. Each file's digest is
    taken here (a cut file's by its first part) unless ``digest`` is false (the
    caller's). ``ahead`` reads the next batch in a thread (when a core is free for it).
    ``stage`` reads the files as that stage (``--stored``), not the scan's ``--stage``."""
    files = [paths] if isinstance(paths, Path) else list(paths)
    if stage is not None and stage is not ctx.stage:
        ctx = replace(ctx, stage=stage)  # the same caches (memo), another stage
    states = {rule_id: st.fresh() for rule_id, st in open_states.items()}
    writer = RunWriter(scratch)
    days: Counter[str] = Counter()
    findings_by_day: Counter[str] = Counter()
    records = np.zeros(len(files), dtype=np.int64)
    rejected = np.zeros(len(files), dtype=np.int64)
    # Per capture (a reader with entries): its entries' spans, its rejected records' lines.
    spans: list[list[EntrySpan] | None] = [[] if reader_for(path)[0].located else None
                                           for path in files]
    rejected_lines: dict[int, list[int]] = {k: [] for k, s in enumerate(spans)
                                            if s is not None}
    for chunk in iter_chunks(files, ctx.rulepack, chunk_rows, part, ctx.mapping, ahead,
                             ctx.limits, spans):
        bad = np.bincount(np.fromiter((r.source for r in chunk.rejected), dtype=np.intp,
                                      count=len(chunk.rejected)), minlength=len(files))
        records += np.bincount(chunk.inputs.to_numpy(), minlength=len(files)) + bad
        rejected += bad
        if rejected_lines:
            for r in chunk.rejected:
                if r.source in rejected_lines:
                    rejected_lines[r.source].append(r.line)
        found = check_chunk(chunk, states, ctx, days, findings_by_day)
        writer.add_chunk([malformed_batch(chunk, ctx), *found], chunk.sources)
        if advance is not None:
            advance(chunk.audited + len(chunk.rejected))
    first = part is None or part.start == 0
    inputs = []
    for k, (path, n, r) in enumerate(zip(files, records.tolist(), rejected.tolist(),
                                         strict=True)):
        reader, compressed = reader_for(path)
        entries = spans[k]
        inputs.append(InputInfo(path=printable(path),
                                format=reader.name + (".gz" if compressed else ""),
                                sha256=sha256_of(path) if digest and first else "",
                                records=n, rejected=r,
                                entries=None if entries is None else
                                entry_infos(entries, rejected_lines[k]),
                                stage=ctx.stage.value))
    return UnitResult([writer.close()], inputs, states, days, findings_by_day)
