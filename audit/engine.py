"""The scan: read → normalise → run each rule → baseline → summary and verdict.

Inputs are streamed chunk by chunk; per rule only findings and small state are
kept (cross-record kinds keep per-chunk partials, consent keeps counts), so
memory does not grow with the dump. Small files share chunks: a unit of work reads
its files one after another into the same chunks, each row keeping its input and
line, so a folder of many small files costs the rules about what one file of the
same records does.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from functools import partial
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from audit import __version__, readers
from audit.checks import CHECK_KINDS, NEEDS_REASONS, CheckKind, Scope
from audit.context import ScanContext, chunk_scoped
from audit.errors import AuditError, NotApplicable, NotTested, UsageError
from audit.finding_store import (
    FindingStore,
    MarkLookup,
    Run,
    RunSpool,
    RunWriter,
    ScratchDir,
    batch_of,
    by_source,
    from_batch,
    merge_late,
    report_order,
    to_batch,
    with_marks,
)
from audit.fingerprint import fingerprint, mask, printable, resolve_key
from audit.ledger import chunk_times
from audit.limits import BATCH_CELLS, DEFAULT_LIMITS, Limits
from audit.locations import entry_infos, locators, with_locations
from audit.mapping import FieldMapping
from audit.model import (
    Acceptance,
    BaselineStatus,
    Finding,
    InputInfo,
    Report,
    RuleOutcome,
    Severity,
    Stage,
    Status,
    Summary,
)
from audit.normalize import Chunk, Piece, normalize_chunk
from audit.options import ScanOptions
from audit.readers import (
    EntrySpan,
    Part,
    RawRecord,
    Rejection,
    expand_inputs,
    read_batches,
    read_records,
    reader_for,
    sha256_of,
    split,
)
from audit.readers.ahead import read_ahead
from audit.rulepack import DUPLICATE_KEY_RULE, MALFORMED_RULE, Category, Rule, RulePack
from audit.rulepack import load as load_rules
from audit.selectors import describe, selected, selection
from audit.variants import VariantFrame, variant_frames
from audit.verdict import gaps_of, verdict_of


@dataclass(slots=True)
class RuleState:
    """What one rule accumulates over the chunks of a scan (picklable, so a Dask
    worker can return it and the driver can merge it).

    ``status`` is set once the rule is decided without its findings (an error, a check
    that could not decide, a stage or a user that leaves it out). ``missing`` names an
    input the rule needs and was not given: its rows are still counted, so that it ends
    *not applicable* when nothing was in its scope and *not tested* otherwise.
    """

    status: Status | None = None
    reason: str | None = None
    missing: str | None = None
    rows_seen: int = 0
    #: the scope's needed fields that some row in scope carried
    fields_seen: set[str] = field(default_factory=set)
    #: what the kind's collect returns per chunk (a DataFrame, or its own state object)
    partials: list[Any] = field(default_factory=list)
    stats: list[pd.DataFrame] = field(default_factory=list)

    def fresh(self) -> RuleState:
        """The state a new file or part starts from: what was decided before reading."""
        return RuleState(self.status, self.reason, self.missing)

    def merge(self, other: RuleState) -> None:
        """Fold another part's state in: an error outranks 'not tested' outranks a result."""
        if other.status is not None and (self.status is None or other.status is Status.ERROR):
            self.status, self.reason = other.status, other.reason
        self.rows_seen += other.rows_seen
        self.fields_seen |= other.fields_seen
        self.partials.extend(other.partials)
        self.stats.extend(other.stats)


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


class _SafeFormat(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def prepare(options: ScanOptions, *, fork: bool = False) -> ScanContext:
    """Load the rule pack, ledger and identities named by the options; with ``fork``, a
    large ledger may be read in a forked process while a large directory builds here."""
    if options.chunk_rows < 1:
        raise UsageError("chunk size must be at least 1")
    pack = load_rules(options.rules, options.limits)
    ledger = identities = None
    aside = _LedgerAside.start(options.ledger, pack) \
        if fork and _worth_reading_aside(options) else None
    try:
        if options.identities:
            from audit.detectors.known import load_identities

            identities = load_identities(options.identities)
        if options.ledger:
            from audit.ledger import ledger_from, load_ledger

            read = aside.result() if aside is not None else None
            ledger = ledger_from(read, pack) if read else load_ledger(options.ledger, pack)
    finally:
        if aside is not None:
            aside.close()
    mapping = None
    if options.mapping:
        from audit.mapping import load_mapping

        mapping = load_mapping(options.mapping, options.limits)
    return ScanContext(
        stage=options.stage,
        stages=frozenset({options.stage, *([Stage.STORED] if options.stored else [])}),
        key=resolve_key(options.key),
        show_evidence=options.show_evidence,
        ledger=ledger,
        identities=identities,
        rulepack=pack,
        mapping=mapping,
        limits=options.limits,
    )


#: Sizes from which the ledger and the directory each take over 0.1 s to load (a forked
#: reader costs about 0.05 s): below either, or on one core, the ledger is read here.
ASIDE_MIN_LEDGER_BYTES = 1 << 20
ASIDE_MIN_IDENTITIES_BYTES = 1 << 15


def _worth_reading_aside(options: ScanOptions) -> bool:
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
    """In the forked process: the ledger read and validated (see :class:`_LedgerAside`)."""
    from audit.ledger import read_ledger

    assert _ASIDE is not None
    return read_ledger(*_ASIDE)


class _LedgerAside:
    """A ledger read in a forked process while this one builds the directory automaton
    (both take about as long). Any failure over there, a broken ledger or a process that
    dies included, gives no result: the ledger is then loaded here, and reports its own
    error."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._read = pool.submit(_read_aside)

    @classmethod
    def start(cls, path: str, pack: RulePack) -> _LedgerAside | None:
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


def initial_states(ctx: ScanContext, skip: Sequence[str] = ()) -> dict[str, RuleState]:
    """Per rule: already decided (unknown kind, excluded, wrong stage) or open, with
    the inputs it misses. ``skip`` holds rule ids or globs to leave out;
    one that matches no rule is a usage error (a typo must not pass as an exclusion)."""
    pack = ctx.rulepack
    ids = [rule.id for rule in pack.all_rules()]
    for pattern in skip:
        if not fnmatch.filter(ids, pattern):
            raise UsageError(f"--skip-rule {pattern!r} matches no rule of the pack "
                             "(see: telemetry-audit rules list)")
    states = {}
    for rule in pack.rules.values():
        state = RuleState()
        kind = CHECK_KINDS.get(rule.kind)
        excluded = next((p for p in skip if fnmatch.fnmatchcase(rule.id, p)), None)
        if kind is None:
            state.status, state.reason = Status.ERROR, f"unknown check kind {rule.kind!r}"
        elif excluded is not None:
            state.status, state.reason = Status.EXCLUDED, f"excluded by --skip-rule {excluded}"
        elif not ctx.scan_stages & rule.stages:
            stages = ", ".join(sorted(s.value for s in rule.stages))
            state.status = Status.NOT_APPLICABLE
            state.reason = f"applies at stage {stages} only (this scan: {ctx.stage.value})"
        elif kind.needs_stages is not None and not kind.needs_stages(rule) <= ctx.scan_stages:
            state.status = Status.NOT_APPLICABLE
            state.reason = ("compares the stages " + " and ".join(
                s.value for s in Stage if s in kind.needs_stages(rule)) + ": scan a transit "
                "capture with the stored dump (scan CAPTURE --stored DUMP)")
        else:
            missing = [n for n in sorted(kind.needs) if not ctx.has(n)]
            if missing:
                state.missing = "; ".join(NEEDS_REASONS[n] for n in missing)
        states[rule.id] = state
    return states


def rule_scope(rule: Rule, ctx: ScanContext) -> Scope:
    """The rule's :class:`Scope`, worked out once per scan (and per worker process)."""
    key = ("scope", rule.id)
    scope = ctx.memo.get(key)
    if scope is None:
        kind = CHECK_KINDS[rule.kind]
        scope = ctx.memo[key] = kind.scope_of(rule, ctx.rulepack.categories[rule.category])
    return scope  # type: ignore[no-any-return]


def _settle(rule: Rule, state: RuleState, ctx: ScanContext) -> None:
    """Decide what the rows in scope leave undecided: nothing in scope is *not
    applicable*; a missing input, or a needed field no row carried, *not tested*."""
    if state.status is not None:
        return
    if state.rows_seen == 0:
        scope = rule_scope(rule, ctx)
        selectors = "; ".join(text for text in (describe(rule.when, rule.unless),
                                                describe(scope.when, scope.unless)) if text)
        state.status = Status.NOT_APPLICABLE
        state.reason = f"no {rule.category} events it applies to" \
            + (f" ({selectors})" if selectors else "")
    elif state.missing is not None:
        state.status, state.reason = Status.NOT_TESTED, state.missing
    else:
        absent = [f for f in rule_scope(rule, ctx).fields if f not in state.fields_seen]
        if absent:
            state.status = Status.NOT_TESTED
            state.reason = (f"{' and '.join(absent)} never present in the "
                            f"{state.rows_seen:,} {rule.category} events it applies to")


def scan(options: ScanOptions) -> Report:
    """Run a whole scan and return the report (nothing is written here)."""
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    files, skipped = expand_inputs(list(options.inputs))
    stored: list[Path] = []
    if options.stored:
        stored, more = expand_inputs(list(options.stored))
        skipped = [*skipped, *more]
    skipped = [printable(name) for name in skipped]
    # ``--jobs 1`` asks for one process: not even a short-lived one for the ledger.
    fork = options.engine != "dask" and options.jobs != 1
    if options.engine != "dask":
        options = replace(options, jobs=jobs_for([*files, *stored], options.jobs))
    ctx = prepare(options, fork=fork)
    pack = ctx.rulepack
    states = initial_states(ctx, options.skip_rules)
    scratch = ScratchDir()
    spool = RunSpool(scratch)
    try:
        if options.engine == "dask":
            from audit.dask_runner import scan_files

            results = merge_parts(*scan_files(files, options, states, stored))
        else:
            results = _scan_locally(files, ctx, states, options, scratch.path, stored)

        inputs: list[InputInfo] = []
        days: Counter[str] = Counter()
        findings_by_day: Counter[str] = Counter()
        for result in results:
            spool.add(result.runs)
            inputs.extend(result.inputs)
            days.update(result.days)
            findings_by_day.update(result.findings_by_day)
            for rule_id, state in result.states.items():
                states[rule_id].merge(state)
                kind = CHECK_KINDS.get(pack.rules[rule_id].kind)
                if kind is not None:
                    states[rule_id].partials = _compacted(kind, states[rule_id].partials)
                    states[rule_id].stats = _compacted(kind, states[rule_id].stats)
        extras: dict[str, Any] = {"events_over_time": [
            {"time": day, "events": days[day], "findings": findings_by_day[day]}
            for day in sorted(days)]}
        finished: list[Finding] = []
        for rule_id, state in states.items():
            finished.extend(_finish(pack.rules[rule_id], state, ctx, extras))
            _settle(pack.rules[rule_id], state, ctx)
        findings, tally = _collect([*files, *stored], spool, finished, states, options,
                                   scratch, extras, inputs)
    except BaseException:
        scratch.remove()
        raise
    finally:
        spool.close()
    outcomes = _outcomes(pack, states, tally)
    summary = _summary(inputs, skipped, outcomes, tally, options)
    run = _run_info(options, pack, inputs, skipped, ctx.identities, started, clock)
    if ctx.mapping is not None:  # the file read, also for a shipped mapping given by name
        run["mapping"] = {**(_digest_of(ctx.mapping.path) or {}), "name": ctx.mapping.name,
                          "ignore": list(ctx.mapping.ignore), "lift": list(ctx.mapping.lift)}
    return Report(
        tool={"name": "telemetry-audit", "version": __version__},
        run=run,
        summary=summary,
        outcomes=tuple(outcomes),
        findings=findings,
        extras=extras,
    )


@dataclass(slots=True)
class Tally:
    """Counts of the final findings, taken as they stream into the store."""

    total: int = 0
    total_by_rule: Counter[str] = field(default_factory=Counter)
    active_by_rule: Counter[str] = field(default_factory=Counter)
    active_by_severity: Counter[Severity] = field(default_factory=Counter)
    expired: int = 0
    #: rule -> (baseline entry, expired) -> findings it matched
    accepted: dict[str, Counter[tuple[Any, bool]]] = field(default_factory=dict)
    #: why the records with an active input/malformed-record finding were rejected
    rejections: Counter[str] = field(default_factory=Counter)

    def add_batch(self, batch: Any) -> None:
        """Count a batch of findings (Arrow columns of :mod:`audit.finding_store`)."""
        import pyarrow.compute as pc

        self.total += batch.num_rows
        status = batch.column("baseline")
        active = pc.not_equal(status, BaselineStatus.SUPPRESSED.value)
        for item in pc.value_counts(batch.column("rule")).to_pylist():
            self.total_by_rule[item["values"]] += item["counts"]
        for name, counter, convert in (("rule", self.active_by_rule, str),
                                       ("severity", self.active_by_severity, Severity)):
            for item in pc.value_counts(batch.column(name).filter(active)).to_pylist():
                counter[convert(item["values"])] += item["counts"]
        self.expired += pc.sum(pc.equal(status, BaselineStatus.EXPIRED.value)).as_py() or 0
        rejected = pc.and_(active, pc.equal(batch.column("rule"), MALFORMED_RULE.id))
        for item in pc.value_counts(batch.column("explanation").filter(rejected)).to_pylist():
            self.rejections[item["values"] or "unreadable record"] += item["counts"]

    def add_accepted(self, batch: Any, entries: dict[tuple[str, str], Any]) -> None:
        """Count the batch's findings a baseline entry matched, by rule and entry (each
        distinct rule and fingerprint looked up once)."""
        import pyarrow.compute as pc

        matched = pc.not_equal(batch.column("baseline"), BaselineStatus.ACTIVE.value)
        if not pc.any(matched).as_py():
            return
        keys = pc.binary_join_element_wise(batch.column("rule").filter(matched),
                                           batch.column("fingerprint").filter(matched),
                                           batch.column("baseline").filter(matched), "\0")
        for item in pc.value_counts(keys).to_pylist():
            rule, fingerprint, mark = item["values"].split("\0")
            entry = entries.get((rule, fingerprint))
            if entry is not None:
                by_entry = self.accepted.setdefault(rule, Counter())
                by_entry[(entry, mark == BaselineStatus.EXPIRED.value)] += item["counts"]

    def acceptances(self, rule: str) -> tuple[Acceptance, ...]:
        """The baseline entries that matched a rule's findings, grouped by reason, owner,
        expiry and whether the acceptance has expired."""
        grouped: Counter[tuple[str, str, str, bool]] = Counter()
        for (entry, expired), n in self.accepted.get(rule, Counter()).items():
            grouped[(entry.reason, entry.owner, entry.expires.isoformat(), expired)] += n
        return tuple(Acceptance(reason=r, owner=o, expires=e, expired=x, findings=n)
                     for (r, o, e, x), n in sorted(grouped.items()))


def _collect(files: list[Path], spool: RunSpool, finished: list[Finding],
             states: dict[str, RuleState], options: ScanOptions, scratch: ScratchDir,
             extras: dict[str, Any], inputs: Sequence[InputInfo] = ()
             ) -> tuple[FindingStore, Tally]:
    """Every finding once, in report order (input file, line, rule, field): the sorted
    runs merged with the cross-record findings, then marked by the baseline; a finding
    of an input with entries (HAR) is given its ``location`` from them."""
    import pyarrow.compute as pc

    from audit.baseline import baseline_marks, load_baseline

    # A rule that could not decide on some chunk decides nothing: drop its other findings.
    undecided = pa.array(sorted(r for r, st in states.items()
                                if st.status is Status.NOT_TESTED), type=pa.string())
    order = {printable(path): i for i, path in enumerate(files)}
    finished.sort(key=lambda f: (order.get(f.source, len(order)), *report_order(f)))
    late: dict[str, list[Finding]] = {}
    for finding in finished:
        late.setdefault(finding.source, []).append(finding)
    tally = Tally()
    baseline = load_baseline(options.baseline) if options.baseline else None
    marks = baseline_marks(baseline, date.today()) if baseline else {}
    lookup = MarkLookup.of(marks) if marks else None
    reasons = baseline.reasons() if baseline else {}
    entries = baseline.index() if baseline else {}
    accepted: dict[str, str] = {}
    writer = RunWriter(scratch.path)
    places = locators(inputs)
    # Batch by batch in Arrow: findings become objects only where a late one merges in.
    for batch in _with_late(spool.batches(), late, order):
        batch = with_locations(batch, places)
        if len(undecided):
            batch = batch.filter(pc.invert(pc.is_in(batch.column("rule"),
                                                    value_set=undecided)))
        if lookup is not None:
            batch = with_marks(batch, lookup)
            accepted_rows = pc.not_equal(batch.column("baseline"),
                                         BaselineStatus.ACTIVE.value)
            for fingerprint in batch.column("fingerprint").filter(accepted_rows).to_pylist():
                if fingerprint in reasons:
                    # Why each accepted finding is accepted, for SARIF.
                    accepted[fingerprint] = reasons[fingerprint]
            tally.add_accepted(batch, entries)
        writer.add_batch(batch)
        tally.add_batch(batch)
    if baseline is not None:
        extras["baseline_reasons"] = accepted
    run = writer.close()
    return FindingStore(run, scratch if run.path else None), tally


def _with_late(batches: Iterable[pa.RecordBatch], late: dict[str, list[Finding]],
               order: dict[str, int]) -> Iterator[pa.RecordBatch]:
    """The runs' batches (in input order, then report order) with each input's late
    findings (cross-record, sorted) merged in where they belong, and the late findings of
    an input that has no others at that input's place."""
    def rank(source: str) -> int:
        return order.get(source, len(order))

    waiting = sorted(late, key=rank, reverse=True)  # the next input last
    for source, segments in groupby(by_source(batches), key=itemgetter(0)):
        while waiting and rank(waiting[-1]) < rank(source):
            yield from merge_late((), late[waiting.pop()])
        own = late[waiting.pop()] if waiting and waiting[-1] == source else ()
        yield from merge_late((batch for _, batch in segments), own)
    while waiting:
        yield from merge_late((), late[waiting.pop()])


class Unit(NamedTuple):
    """A unit of work: files read one after another into shared chunks, or one part of
    one large file (``part``)."""

    files: tuple[Path, ...]
    part: Part | None = None
    #: the stage its files are read as, when not the scan's ``--stage`` (``--stored``)
    stage: Stage | None = None


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
    total = sum(_size(path) for path in files)
    if total < SPLIT_MIN_BYTES:
        return 1
    return max(1, min(usable_cores(), MAX_AUTO_JOBS))


def _size(path: Path) -> int:
    """The file's size; 0 when it cannot be read (its reader reports why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


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
    sizes = [_size(path) for path in files]
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


def _scan_locally(files: list[Path], ctx: ScanContext, states: dict[str, RuleState],
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
        writer.add_chunk([_malformed(chunk, ctx), *found], chunk.sources)
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


def _count_days(chunk: Chunk, hit_rows: list[np.ndarray], days: Counter[str],
                findings_by_day: Counter[str]) -> None:
    """Events and findings per day of event time, for the report's time chart
    (``hit_rows``: the row labels of the chunk's findings).

    Days stay numpy day numbers until they are counted: only the distinct days are
    formatted, never a timestamp object per row.
    """
    row_labels, row_days = [], []
    for events in chunk.frames.values():
        if "time" not in events.columns:
            continue
        when = chunk_times(events, "time")
        valid = when.notna().to_numpy()
        day = when.dt.tz_convert(None).to_numpy()[valid]  # any year: not via nanoseconds
        row_days.append(day.astype("datetime64[D]"))
        row_labels.append(events.index.to_numpy()[valid])
    if not row_days:
        return
    day_of_row = np.concatenate(row_days)
    days.update(_day_counts(day_of_row))
    if hit_rows:
        labels = np.concatenate(row_labels)
        order = np.argsort(labels, kind="stable")
        labels, day_of_row = labels[order], day_of_row[order]
        wanted = np.concatenate(hit_rows)
        at = np.minimum(np.searchsorted(labels, wanted), max(len(labels) - 1, 0))
        dated = (labels[at] == wanted) if len(labels) else np.zeros(len(wanted), dtype=bool)
        findings_by_day.update(_day_counts(day_of_row[at[dated]]))


def _day_counts(days: np.ndarray) -> dict[str, int]:
    """Count per day: YYYY-MM-DD -> how many of ``days`` (datetime64[D]) fall on it."""
    if not len(days):
        return {}
    unique, counts = np.unique(days, return_counts=True)
    labels = np.datetime_as_string(unique, unit="D")
    return dict(zip(labels.tolist(), counts.tolist(), strict=True))


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


def iter_chunks(paths: Sequence[Path], pack: RulePack, chunk_rows: int,
                part: Part | None = None, mapping: FieldMapping | None = None,
                ahead: bool = False, limits: Limits = DEFAULT_LIMITS,
                spans: Sequence[list[EntrySpan] | None] | None = None) -> Iterator[Chunk]:
    """Normalised chunks of files read one after another (or of one part of one file),
    at most ``chunk_rows`` records each (a batch the reader cut by lines may hold
    fewer): each batch joins the chunk being filled, so small files share chunks while
    a large one streams a chunk at a time. With ``ahead``, a format pyarrow parses (the
    GIL released) has its next batch read in a thread while this chunk is checked;
    formats read by Python gain nothing from it. ``spans[i]``, when a list, receives the
    entry spans of ``paths[i]`` (a HAR capture), complete once the chunks are."""
    sources = tuple(printable(path) for path in paths)
    pieces = _pieces(paths, pack, chunk_rows, part, limits, mapping, spans)
    if ahead and any(reader_for(path)[0].batches is not None for path in paths):
        pieces = read_ahead(pieces)
    held: list[Piece] = []
    count = start = rows = 0
    columns: set[str] = set()  # of the held pieces: a chunk's frame has a cell for each row
    for piece in pieces:
        frame = piece.batch.frame
        joined = columns.union(frame.columns)
        if held and (count + piece.batch.records > chunk_rows
                     or (rows + len(frame)) * len(joined) > BATCH_CELLS):
            yield normalize_chunk(held, sources, pack, start=start, mapping=mapping)
            start += rows
            held, count, rows, joined = [], 0, 0, set(frame.columns)
        held.append(piece)
        count += piece.batch.records
        rows += len(frame)
        columns = joined
        if count >= chunk_rows:
            yield normalize_chunk(held, sources, pack, start=start, mapping=mapping)
            start += rows
            held, count, rows, columns = [], 0, 0, set()
    if held:
        yield normalize_chunk(held, sources, pack, start=start, mapping=mapping)


def _pieces(paths: Sequence[Path], pack: RulePack, chunk_rows: int, part: Part | None,
            limits: Limits, mapping: FieldMapping | None,
            spans: Sequence[list[EntrySpan] | None] | None = None) -> Iterator[Piece]:
    """The files' records in turn, as batches with each record's file: a file's own
    batches, or, for consecutive small files, their records read and gathered into
    batches of up to ``chunk_rows`` (empty batches left out: they add nothing)."""
    strings = string_fields(pack)
    gathered: list[RawRecord] = []
    owners: list[int] = []
    alike = True  # whether the gathered records are typed (CSV's are text)
    for position, path in enumerate(paths):
        reader, _ = reader_for(path)
        small = part is None and _small(path)
        entries = spans[position] if spans is not None else None
        records = list(read_records(path, limits, entries)) if small else []
        # The field mapping works row by row, so mapped files share batches too.
        kind = reader.typed
        if gathered and (not small or kind != alike):
            yield from _gathered(gathered, owners, alike, limits)
            gathered, owners = [], []
        if not small:
            for batch in read_batches(path, chunk_rows, strings, part, limits, entries):
                if batch.records:
                    yield Piece.of(position, batch, reader.typed)
            continue
        alike = kind
        for record in records:
            gathered.append(record)
            owners.append(position)
            if len(gathered) >= chunk_rows:
                yield from _gathered(gathered, owners, alike, limits)
                gathered, owners = [], []
    if gathered:
        yield from _gathered(gathered, owners, alike, limits)


#: Files up to this size are read record by record, their records gathered with those of
#: the small files around them into one batch: a frame per small file, and joining the
#: frames, would cost more than reading them.
SMALL_FILE_BYTES = 1 << 16


def _small(path: Path) -> bool:
    """Whether a file holds at most `SMALL_FILE_BYTES`, decompressed: a small gzip file
    may inflate to a line of any length, which only the reader's own batches stream."""
    if _size(path) > SMALL_FILE_BYTES:
        return False
    if not reader_for(path)[1]:
        return True
    try:
        with gzip.open(path, "rb") as stream:
            return len(stream.read(SMALL_FILE_BYTES + 1)) <= SMALL_FILE_BYTES
    except (OSError, EOFError, zlib.error):  # the reader reports what is wrong
        return False


def _gathered(records: list[RawRecord], owners: list[int], typed: bool,
              limits: Limits) -> Iterator[Piece]:
    """Records of several files (``owners[i]``: the file of ``records[i]``) as pieces (one,
    unless their keys make more cells than a batch holds).

    The reader's ``batches_of`` makes the batches; it is given each record's position in
    place of its line (two files have a line 5 each), so that every row and rejection can
    be traced back to its file and true line."""
    numbered = [replace(record, line=k) for k, record in enumerate(records)]
    lines = np.fromiter((r.line for r in records), dtype=np.int64, count=len(records))
    files = np.asarray(owners, dtype=np.intp)
    for batch in readers.batches_of(numbered, limits):
        rejected = [Rejection(int(lines[r.line]), r.what, r.digest) for r in batch.rejected]
        yield Piece(readers.Batch(batch.frame, lines[batch.lines], rejected, batch.repeats),
                    files[batch.lines], [owners[r.line] for r in batch.rejected], typed)


def string_fields(pack: RulePack) -> frozenset[str]:
    """Fields every category declares as strings: readers must keep them as text."""
    by_name: dict[str, set[str]] = {}
    for category in pack.categories.values():
        for spec in category.fields.values():
            by_name.setdefault(spec.name, set()).add(spec.type)
    return frozenset(name for name, types in by_name.items() if types == {"string"})


@chunk_scoped
def check_chunk(chunk: Chunk, states: dict[str, RuleState], ctx: ScanContext,
                days: Counter[str], findings_by_day: Counter[str]) -> list[pa.RecordBatch]:
    """Run the rules on a chunk (and on the other values of its repeated keys) and count
    its events and findings per day, with one chunk cache for both (the event times are
    parsed once)."""
    found, rows = run_chunk(chunk, states, ctx)
    if chunk.repeats is not None:
        more, more_rows = run_variants(chunk, states, ctx, found, rows)
        found, rows = [*found, *more], [*rows, *more_rows]
        keys = chunk.repeats.keys
        if len(keys):
            found.append(_duplicate_keys(chunk, ctx))
            rows.append(keys.index.to_numpy())
    _count_days(chunk, rows, days, findings_by_day)
    return found


def run_chunk(chunk: Chunk, states: dict[str, RuleState], ctx: ScanContext
              ) -> tuple[list[pa.RecordBatch], list[np.ndarray]]:
    """Run every runnable rule on the chunk's rows of its category: the findings, and
    the row labels they were found on.

    The rules share one chunk cache: rules with equal selectors get the same rows, and
    what one rule derives from them the next one reuses.
    """
    found: list[pa.RecordBatch] = []
    found_rows: list[np.ndarray] = []
    for category, events in chunk.frames.items():
        for rule in ctx.rulepack.categories[category].rules:
            state = states[rule.id]
            if state.status is not None or ctx.stage not in rule.stages:
                continue
            rows = selected(events, rule.when, rule.unless)
            if rows.empty or not _in_scope(rows, state, rule_scope(rule, ctx)):
                continue
            if state.missing is not None:
                continue  # counted, not checked: the rule misses an input
            result = _checked(rule, rows, partial(_meta, chunk, rows.index.to_numpy(),
                                                  rows.index), state, ctx)
            if result is not None and len(result):
                lines = chunk.lines[result.index].to_numpy()
                found.append(finding_batch(rule, result, chunk.sources_of(result.index),
                                           lines, ctx))
                found_rows.append(result.index.to_numpy())
        for rule in _gatherers(category, ctx):
            _gather(rule, category, events, partial(_meta, chunk, events.index.to_numpy(),
                                                    events.index), states[rule.id], ctx)
    return found, found_rows


def _gatherers(category: str, ctx: ScanContext) -> tuple[Rule, ...]:
    """The rules of other categories whose kind also gathers from this one's events."""
    key = ("gatherers", category)
    rules = ctx.memo.get(key)
    if rules is None:
        rules = ctx.memo[key] = tuple(
            rule for rule in ctx.rulepack.rules.values()
            if rule.category != category and rule.kind in CHECK_KINDS
            and (kind := CHECK_KINDS[rule.kind]).gathers_from is not None
            and category in kind.gathers_from(rule))
    return rules  # type: ignore[no-any-return]


def _gather(rule: Rule, category: str, events: pd.DataFrame, meta: Any, state: RuleState,
            ctx: ScanContext) -> None:
    """Add what ``rule`` gathers from another category's events to its partials."""
    if state.status is not None or state.missing is not None or ctx.stage not in rule.stages:
        return
    kind = CHECK_KINDS[rule.kind]
    assert kind.gather is not None
    try:
        state.partials.append(kind.gather(rule, category, events, meta(), ctx))
        state.partials = _compacted(kind, state.partials)
    except Exception as exc:  # a bug in a check: report it, never skip silently
        state.status, state.reason = Status.ERROR, f"{type(exc).__name__}: {exc}"


def _meta(chunk: Chunk, labels: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """The source and line of the rows ``index`` of the records of row ``labels``."""
    return pd.DataFrame({"source": chunk.sources_of(pd.Index(labels)),
                         "line": chunk.lines[labels].to_numpy()}, index=index)


def _checked(rule: Rule, rows: pd.DataFrame, meta: Any, state: RuleState, ctx: ScanContext,
             *, keep: bool = True) -> pd.DataFrame | None:
    """The rule's hits on ``rows``, or None when it could not decide (its state says why).

    ``meta()`` gives a cross-record kind the source and line of each row. Without
    ``keep`` (variant rows) the kind's partials and stats are dropped: the cross-record
    part of a rule and the consent timeline see each record once, with its row's values.
    """
    kind = CHECK_KINDS[rule.kind]
    try:
        if kind.aggregate:
            result, partial = kind.func(rule, rows, meta(), ctx)
            if keep:
                state.partials.append(partial)
                state.partials = _compacted(kind, state.partials)
        else:
            result = kind.func(rule, rows, ctx)
        if kind.summarize is not None:
            result, stats = result
            if keep:
                state.stats.append(stats)
                state.stats = _compacted(kind, state.stats)
    except NotTested as signal:
        state.status, state.reason = Status.NOT_TESTED, signal.reason
        return None
    except Exception as exc:  # a bug in a check: report it, never skip silently
        state.status, state.reason = Status.ERROR, f"{type(exc).__name__}: {exc}"
        return None
    return result  # type: ignore[no-any-return]


def run_variants(chunk: Chunk, states: dict[str, RuleState], ctx: ScanContext,
                 found: list[pa.RecordBatch], found_rows: list[np.ndarray]
                 ) -> tuple[list[pa.RecordBatch], list[np.ndarray]]:
    """Check each other value of a repeated key in a variant of its record's row
    (:mod:`audit.variants`), and keep what a rule finds there on a field the row varies,
    or on the whole event (consent at another time or subject), where the record's own
    row (``found``, on the row labels ``found_rows``) and earlier variants have no finding
    of that rule and field: one finding per rule, record and field, naming the value that
    violates. A record counts as one event in a rule's scope, whether its row or a
    variant brings it there.
    """
    assert chunk.repeats is not None
    variants = chunk.repeats.variants
    batches: list[pa.RecordBatch] = []
    rows_of: list[np.ndarray] = []
    if variants.empty:
        return batches, rows_of
    taken = _found_on(variants.index.unique().to_numpy(), found, found_rows)
    counted: dict[str, set[int]] = {}  # per rule, records a variant brought in scope
    for category, events in chunk.frames.items():
        mine = variants[variants.index.isin(events.index)]
        if mine.empty:
            continue
        context = _variant_fields(ctx.rulepack.categories[category], ctx)
        for part in variant_frames(events, mine, context):
            for rule in ctx.rulepack.categories[category].rules:
                state = states[rule.id]
                if state.status is not None or ctx.stage not in rule.stages:
                    continue
                rows = selected(part.frame, rule.when, rule.unless)
                scope = rule_scope(rule, ctx)
                mains = part.mains[rows.index.to_numpy()]
                if rows.empty or not _in_scope(rows, state, scope, partial(
                        _events_beyond, events, mains, rule, scope,
                        counted.setdefault(rule.id, set()))):
                    continue
                if state.missing is not None:
                    continue
                result = _checked(rule, rows, partial(_meta, chunk, mains, rows.index),
                                  state, ctx, keep=False)
                if result is None or not len(result):
                    continue
                kept = _first_on_varied(rule, result, part, taken)
                if len(kept):
                    labels = part.mains[result.index.to_numpy()[kept]]
                    batches.append(finding_batch(rule, result.iloc[kept],
                                                 chunk.sources_of(pd.Index(labels)),
                                                 chunk.lines[labels].to_numpy(), ctx))
                    rows_of.append(labels)
    return batches, rows_of


def _first_on_varied(rule: Rule, result: pd.DataFrame, part: VariantFrame,
                     taken: set[tuple[str, int, str | None]]) -> np.ndarray:
    """The hits of ``result`` (on rows of ``part``) to keep, in row order: on a field the
    row varies or the whole event, and the first of their rule, record and field
    (``taken`` holds those found already, and is updated)."""
    at = result.index.to_numpy()
    names = result["field"].to_numpy(dtype=object)
    kept = []
    for i in np.argsort(at, kind="stable").tolist():  # earlier values first
        name = None if pd.isna(names[i]) else names[i]
        key = (rule.id, int(part.mains[at[i]]), name)
        if (name is None or name in part.varied[at[i]]) and key not in taken:
            taken.add(key)
            kept.append(i)
    return np.asarray(sorted(kept), dtype=np.intp)


def _events_beyond(events: pd.DataFrame, mains: np.ndarray, rule: Rule, scope: Scope,
                   counted: set[int], chosen: np.ndarray | None) -> int:
    """Of the records of variant rows (``mains``: their row labels; ``chosen``: those in
    the rule's scope), how many the rule does not apply to through their own row, nor
    through a variant already (``counted``, updated): a record is one event in scope,
    however many of its values bring it there."""
    own = selected(events, rule.when, rule.unless)
    if scope.when or scope.unless:
        own = own[selection(own, scope.when, scope.unless)]
    labels = mains if chosen is None else mains[chosen]
    beyond = set(np.setdiff1d(labels, own.index.to_numpy()).tolist()) - counted
    counted.update(beyond)
    return len(beyond)


def _found_on(labels: np.ndarray, found: list[pa.RecordBatch], found_rows: list[np.ndarray]
              ) -> set[tuple[str, int, str | None]]:
    """(rule, row label, field) of the findings on the rows ``labels``."""
    taken: set[tuple[str, int, str | None]] = set()
    for batch, rows in zip(found, found_rows, strict=True):
        at = np.flatnonzero(np.isin(rows, labels))
        if len(at):
            picked = batch.take(pa.array(at))
            taken.update(zip(picked.column("rule").to_pylist(), rows[at].tolist(),
                             picked.column("field").to_pylist(), strict=True))
    return taken


def _variant_fields(category: Category, ctx: ScanContext) -> frozenset[str]:
    """The fields a category's rules may need beside the one they check: declared ones,
    the select field, and those their selectors, scopes and consent gates name."""
    key = ("variant-fields", category.name)
    names = ctx.memo.get(key)
    if names is None:
        found = {category.select_field, *category.fields}
        for spec in category.fields.values():
            found.update(spec.required_when or ())
        for gate in category.gates.values():
            found.update([gate.subject, *(gate.when or ()), *(gate.unless or ())])
        for rule in category.rules:
            scope = rule_scope(rule, ctx) if rule.kind in CHECK_KINDS else None
            found.update([*(rule.when or ()), *(rule.unless or ())])
            if scope is not None:
                found.update([*(scope.when or ()), *(scope.unless or ()), *scope.fields])
        names = ctx.memo[key] = frozenset(found)
    return names  # type: ignore[no-any-return]


def _in_scope(rows: pd.DataFrame, state: RuleState, scope: Scope,
              events_of: Callable[[np.ndarray | None], int] | None = None) -> int:
    """Count the rows in the rule's scope and note which needed fields they carry;
    the number of rows in scope. ``events_of(chosen)`` counts the events of rows that
    are not one each (variant rows: see :func:`run_variants`)."""
    if scope.when or scope.unless:
        chosen = selection(rows, scope.when, scope.unless)
        n = int(chosen.sum())
    else:
        chosen, n = None, len(rows)
    state.rows_seen += n if events_of is None or not n else events_of(chosen)
    for name in scope.fields:
        if n and name not in state.fields_seen and name in rows.columns:
            column = rows[name] if chosen is None else rows[name][chosen]
            if column.notna().any():
                state.fields_seen.add(name)
    return n


COMPACT_AFTER = 8


def _compacted(kind: CheckKind, frames: list[Any]) -> list[Any]:
    """Fold a kind's accumulated frames once enough have gathered (bounded state)."""
    if kind.compact is None or len(frames) <= COMPACT_AFTER:
        return frames
    return kind.compact(frames)


def _finish(rule: Rule, state: RuleState, ctx: ScanContext, extras: dict[str, Any]
            ) -> list[Finding]:
    """Cross-record kinds turn their partials into findings; summaries go to extras."""
    kind = CHECK_KINDS.get(rule.kind)
    if kind is None or state.status is not None or state.missing is not None:
        return []
    try:
        if kind.summarize is not None:
            _extend(extras, kind.summarize(rule, state.stats, ctx))
        if not kind.aggregate or not state.partials:
            return []
        assert kind.finish is not None
        result = kind.finish(rule, state.partials, ctx)
        if isinstance(result, tuple):  # hits, and a JSON-ready summary for the extras
            result, summary = result
            _extend(extras, summary)
    except NotApplicable as signal:
        state.status, state.reason = Status.NOT_APPLICABLE, signal.reason
        _extend(extras, signal.summary)
        return []
    except NotTested as signal:
        state.status, state.reason = Status.NOT_TESTED, signal.reason
        return []
    except Exception as exc:
        state.status, state.reason = Status.ERROR, f"{type(exc).__name__}: {exc}"
        return []
    return from_batch(finding_batch(rule, result, result["source"].to_numpy(),
                                    result["line"].to_numpy(), ctx))


def _extend(extras: dict[str, Any], summary: Any) -> None:
    """Append a kind's summary lists to the report's extras, under the same keys."""
    for key, value in summary.items():
        extras.setdefault(key, []).extend(value)


def finding_batch(rule: Rule, result: pd.DataFrame, sources: str | np.ndarray,
                  lines: np.ndarray, ctx: ScanContext) -> pa.RecordBatch:
    """Hits → findings, straight into Arrow columns: message, masked evidence and
    fingerprint, in one place. ``sources`` is the input of every hit, or one per hit."""
    n = len(result)
    fields = result["field"].tolist()
    detectors = result["detector"].tolist()
    explanations = result["explanation"].tolist()
    messages: list[str] = []
    evidence: list[str | None] = []
    prints: list[str] = []
    # Findings of one rule repeat their texts: build each message once and share the
    # strings. A value repeats too (a shared device id, a user's address): mask and
    # digest it once.
    texts: dict[tuple[Any, ...], str] = {}
    digests: dict[tuple[Any, str | None], tuple[str | None, str]] = {}
    for field_name, value, detector, explanation in zip(
            fields, result["value"], detectors, explanations, strict=True):
        text = _as_text(value)
        digested = digests.get((field_name, text))
        if digested is None:
            digested = digests[(field_name, text)] = (
                text if ctx.show_evidence else mask(text, ctx.key),
                fingerprint(ctx.key, rule.id, field_name, text))
        message = texts.get((field_name, detector, explanation))
        if message is None:
            message = texts[(field_name, detector, explanation)] = rule.message.format_map(
                _SafeFormat(
                    field=field_name or "-",
                    explanation=explanation or "",
                    detector=detector or "",
                    rule=rule.id,
                    category=rule.category,
                )
            )
        messages.append(message)
        evidence.append(digested[0])
        prints.append(digested[1])
    return batch_of({
        "rule": [rule.id] * n,
        "category": [rule.category] * n,
        "severity": [rule.severity.value] * n,
        "source": [sources] * n if isinstance(sources, str) else [str(s) for s in sources],
        "line": np.asarray(lines, dtype=np.int64),
        "location": [None] * n,  # set once the scan's findings are in (audit.locations)
        "field": fields,
        "message": messages,
        "evidence": evidence,
        "fingerprint": prints,
        "detector": detectors,
        "explanation": explanations,
        "baseline": [BaselineStatus.ACTIVE.value] * n,
    })


def _as_text(value: Any) -> str | None:
    """The canonical text of a value, the same whatever format or dtype carried it."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, list | dict):
        value = value.item()  # numpy scalar → Python
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3 in JSON is 3.0 in a float column
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _malformed(chunk: Chunk, ctx: ScanContext) -> pa.RecordBatch:
    """The chunk's rejected records as findings (an empty batch when there are none)."""
    return to_batch(list(_malformed_findings(chunk, ctx)))


def _malformed_findings(chunk: Chunk, ctx: ScanContext) -> Iterator[Finding]:
    """A finding per rejected record, identified by what is wrong and the keyed digest of
    the record's content: never by its path or line, which move when unrelated lines are
    added or removed (a baseline entry or a diff would stop matching it)."""
    rule = MALFORMED_RULE
    for source, line, what, digest in chunk.rejected:
        yield Finding(
            rule=rule.id,
            category=rule.category,
            severity=rule.severity,
            source=chunk.sources[source],
            line=line,
            field=None,
            message=rule.message.format(explanation=what),
            evidence=None,
            fingerprint=fingerprint(ctx.key, rule.id, None, f"{digest} {what}"),
            detector="reader",
            explanation=what,
        )


def _duplicate_keys(chunk: Chunk, ctx: ScanContext) -> pa.RecordBatch:
    """A finding per audited record and key it repeats, from the readers' note: the
    evidence and fingerprint come from every value given, in document order."""
    assert chunk.repeats is not None
    keys = chunk.repeats.keys
    result = pd.DataFrame({
        "field": keys["field"].to_numpy(dtype=object),
        "value": keys["values"].to_numpy(dtype=object),
        "detector": "reader",
        "explanation": [f"{count:,} values, each audited" for count in keys["count"]],
    }, index=keys.index)
    return finding_batch(DUPLICATE_KEY_RULE, result, chunk.sources_of(keys.index),
                         chunk.lines[keys.index].to_numpy(), ctx)


def _outcomes(pack: RulePack, states: dict[str, RuleState], tally: Tally) -> list[RuleOutcome]:
    """One outcome per rule: the status decided while scanning, else its findings':
    failed (active ones), accepted (all accepted by the baseline) or passed."""
    counts = tally.active_by_rule
    outcomes = []
    for rule in pack.all_rules():
        state = states.get(rule.id)
        status, reason = (state.status, state.reason) if state else (None, None)
        accepted = tally.total_by_rule[rule.id] - counts[rule.id]
        if status is None:
            if counts[rule.id]:
                status = Status.FAILED
            elif accepted:
                status = Status.ACCEPTED
            else:
                status = Status.PASSED
        outcomes.append(
            RuleOutcome(
                rule=rule.id,
                category=rule.category,
                severity=rule.severity,
                status=status,
                findings=counts[rule.id],
                reason=reason,
                description=rule.title,
                policy=rule.policy,
                help=rule.help,
                accepted=accepted,
                acceptances=tally.acceptances(rule.id),
            )
        )
    return outcomes


def _summary(inputs: Sequence[InputInfo], skipped: Sequence[str],
             outcomes: Sequence[RuleOutcome], tally: Tally, options: ScanOptions) -> Summary:
    read = sum(i.records for i in inputs)
    rejected = sum(i.rejected for i in inputs)
    by_severity = tally.active_by_severity
    failing = any(severity.rank >= options.fail_on.rank for severity in +by_severity)
    active = sum(by_severity.values())
    accepted = tally.total_by_rule[MALFORMED_RULE.id] - tally.active_by_rule[MALFORMED_RULE.id]
    gaps = gaps_of(outcomes, read=read, rejected=rejected, skipped=skipped,
                   limit=options.max_rejected, accepted=accepted,
                   reasons=tally.rejections.most_common(1))
    return Summary(
        records_read=read,
        records_audited=read - rejected,
        records_rejected=rejected,
        findings_total=tally.total,
        findings_by_rule=dict(sorted((+tally.active_by_rule).items())),
        findings_by_severity={s.value: by_severity.get(s, 0) for s in Severity},
        suppressed=tally.total - active,
        expired=tally.expired,
        fail_on=options.fail_on,
        verdict=verdict_of(failing, gaps),
        skipped_inputs=len(skipped),
        gaps=gaps,
    )


def _digest_of(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    return {"path": printable(path), "sha256": sha256_of(Path(path))}


def _run_info(
    options: ScanOptions,
    pack: RulePack,
    inputs: Sequence[InputInfo],
    skipped: Sequence[str],
    identities: Any,
    started: datetime,
    clock: float,
) -> dict[str, Any]:
    identities_info = _digest_of(options.identities)
    if identities_info is not None and identities is not None:
        identities_info["count"] = len(identities)
    return {
        "stage": options.stage.value,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": round(time.perf_counter() - clock, 3),
        "command": options.command and printable(options.command),
        "engine": options.engine,
        "rulepack": {
            "directory": printable(pack.directory),
            "digest": pack.digest,
            "files": [{"path": printable(p), "sha256": h} for p, h in pack.files],
            "statements": pack.statements,
            "rules": [
                {"id": r.id, "category": r.category, "kind": r.kind, "severity": r.severity.value}
                for r in pack.all_rules()
            ],
        },
        "inputs": [i.to_dict() for i in inputs],
        "skipped_files": list(skipped),
        "ledger": _digest_of(options.ledger),
        "mapping": None,  # set by scan from the mapping loaded
        "identities": identities_info,
        "parameters": {
            "fail_on": options.fail_on.value,
            "formats": list(options.formats),
            "baseline": options.baseline and printable(options.baseline),
            "show_evidence": options.show_evidence,
            "chunk_rows": options.chunk_rows,
            "jobs": options.jobs,
            "skip_rules": list(options.skip_rules),
            "max_rejected": str(options.max_rejected),
            "allow_incomplete": options.allow_incomplete,
            "limits": options.limits.describe(),
        },
    }
