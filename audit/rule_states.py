"""What each rule accumulates over a scan, and how it is decided without findings.

A rule's state travels between processes (forked workers, Dask workers) and is
merged; its status says *not applicable*, *not tested* or *excluded* when no finding
can, so that a verdict never vouches for a rule that had nothing to test.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.checks import CHECK_KINDS, NEEDS_REASONS, CheckKind, Scope
from audit.context import ScanContext
from audit.errors import UsageError
from audit.model import Stage, Status
from audit.rulepack import Rule
from audit.selectors import describe, selection


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


def settle(rule: Rule, state: RuleState, ctx: ScanContext) -> None:
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


def in_scope(rows: pd.DataFrame, state: RuleState, scope: Scope,
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


def compacted(kind: CheckKind, frames: list[Any]) -> list[Any]:
    """Fold a kind's accumulated frames once enough have gathered (bounded state)."""
    if kind.compact is None or len(frames) <= COMPACT_AFTER:
        return frames
    return kind.compact(frames)
