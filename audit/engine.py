"""The scan: load → run the units of work → finish cross-record rules → summary and verdict.

Inputs are streamed chunk by chunk; per rule only findings and small state are
kept (cross-record kinds keep per-chunk partials, consent keeps counts), so
memory does not grow with the dump. The steps live in modules of their own:
:mod:`audit.parallel` plans the units and runs them (in forked processes, or on Dask
through :mod:`audit.dask_runner`), :mod:`audit.units` reads, normalises
(:mod:`audit.chunks`) and checks (:mod:`audit.checking`) one unit, and
:mod:`audit.collect` puts every finding in report order under the baseline. This
module ties them together and states the outcome of each rule and the verdict.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from audit import __version__
from audit.checking import finish_rule
from audit.checks import CHECK_KINDS
from audit.collect import Tally, collect_findings
from audit.context import ScanContext
from audit.errors import UsageError
from audit.finding_store import RunSpool, ScratchDir
from audit.fingerprint import printable, resolve_key
from audit.model import (
    Finding,
    InputInfo,
    Report,
    RuleOutcome,
    Severity,
    Stage,
    Status,
    Summary,
)
from audit.options import ScanOptions
from audit.parallel import LedgerAside, jobs_for, scan_locally, worth_reading_aside
from audit.readers import expand_inputs, sha256_of
from audit.rule_states import RuleState, compacted, initial_states, settle
from audit.rulepack import MALFORMED_RULE, RulePack
from audit.rulepack import load as load_rules
from audit.units import merge_parts
from audit.verdict import gaps_of, verdict_of


def prepare(options: ScanOptions, *, fork: bool = False) -> ScanContext:
    """Load the rule pack, ledger and identities named by the options; with ``fork``, a
    large ledger may be read in a forked process while a large directory builds here."""
    if options.chunk_rows < 1:
        raise UsageError("chunk size must be at least 1")
    pack = load_rules(options.rules, options.limits)
    ledger = identities = None
    aside = LedgerAside.start(options.ledger, pack) \
        if fork and worth_reading_aside(options) else None
    try:
        if any("SECRET" in rule.params.get("entities", ()) for rule in pack.rules.values()):
            from audit.detectors.credentials import warm

            warm()  # while the ledger is read aside; workers forked later share it
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
            results = scan_locally(files, ctx, states, options, scratch.path, stored)

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
                    states[rule_id].partials = compacted(kind, states[rule_id].partials)
                    states[rule_id].stats = compacted(kind, states[rule_id].stats)
        extras: dict[str, Any] = {"events_over_time": [
            {"time": day, "events": days[day], "findings": findings_by_day[day]}
            for day in sorted(days)]}
        finished: list[Finding] = []
        for rule_id, state in states.items():
            finished.extend(finish_rule(pack.rules[rule_id], state, ctx, extras))
            settle(pack.rules[rule_id], state, ctx)
        findings, tally = collect_findings([*files, *stored], spool, finished, states, options,
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
