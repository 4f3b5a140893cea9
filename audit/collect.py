"""Every finding once, in report order, marked by the baseline and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa

from audit.finding_store import (
    FindingStore,
    MarkLookup,
    RunSpool,
    RunWriter,
    ScratchDir,
    by_source,
    merge_late,
    report_order,
    with_marks,
)
from audit.fingerprint import printable
from audit.locations import locators, with_locations
from audit.model import Acceptance, BaselineStatus, Finding, InputInfo, Severity, Status
from audit.options import ScanOptions
from audit.rule_states import RuleState
from audit.rulepack import MALFORMED_RULE


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


def collect_findings(files: list[Path], spool: RunSpool, finished: list[Finding],
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
