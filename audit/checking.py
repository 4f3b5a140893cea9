"""One chunk → its findings: every runnable rule on the rows it selects.

The hot path of a scan. Rules share one chunk cache (equal selectors get the same
rows; what one rule derives, the next reuses); repeated keys are checked in variant
rows; cross-record kinds keep small partials that :func:`finish_rule` turns into
findings at the end.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from audit.checks import CHECK_KINDS, Scope
from audit.context import ScanContext, chunk_scoped
from audit.errors import NotApplicable, NotTested
from audit.finding_store import from_batch
from audit.findings import duplicate_key_batch, finding_batch
from audit.ledger import chunk_times
from audit.model import Finding, Status
from audit.normalize import Chunk
from audit.rule_states import RuleState, compacted, in_scope, rule_scope
from audit.rulepack import Category, Rule
from audit.selectors import selected, selection
from audit.variants import VariantFrame, variant_frames


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
            found.append(duplicate_key_batch(chunk, ctx))
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
            if rows.empty or not in_scope(rows, state, rule_scope(rule, ctx)):
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
        state.partials = compacted(kind, state.partials)
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
                state.partials = compacted(kind, state.partials)
        else:
            result = kind.func(rule, rows, ctx)
        if kind.summarize is not None:
            result, stats = result
            if keep:
                state.stats.append(stats)
                state.stats = compacted(kind, state.stats)
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
                if rows.empty or not in_scope(rows, state, scope, partial(
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


def finish_rule(rule: Rule, state: RuleState, ctx: ScanContext, extras: dict[str, Any]
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
