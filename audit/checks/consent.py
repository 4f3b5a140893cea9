"""Check kind ``consent``: an event sent while its consent gate did not allow it.

A rule names one consent gate of its category (``params: {gate: org-tracing}``).
The gate says which events it governs (its ``when``/``unless`` selectors), which
event field names the ledger subject, and which value of the setting must be in
force for events to be sent. For example, with the ledger record
``org,fabrikam.com,DisableAutomaticSendTracing,true,2026-02-01T00:00:00Z``, a
desktop usage event of tenant ``fabrikam.com`` sent on 2026-03-01 is flagged:
"DisableAutomaticSendTracing was true since 2026-02-01T00:00:00Z (ledger line 3);
sending requires false".

Findings are event-level (``field`` None); their value is the subject's matching
key, so the fingerprint groups violations by subject and the engine masks it.
The explanation never contains the subject. Rows whose subject or time is
missing or unparseable cannot be decided and are skipped: the schema rules
report them.

At ``--stage stored`` the telemetry service has hashed the error-data UserID,
so a user-scope gate is only decided when the ledger gives its user subjects in
hashed form too: every user subject of the ledger for that setting looks like a
digest (hex, GUID or base64 of a digest's length) and at least one event of the
chunk matches a ledger subject. Otherwise the rule is not tested: comparing
cleartext names with hashes would flag every event.

Besides hits, each chunk returns small statistics (counts of events and
violations per subject and ledger record), from which :func:`summarize` builds
the consent timeline of the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from audit.checks import Scope, check_kind, hits
from audit.context import shared
from audit.errors import NotTested, RuleFileError
from audit.fingerprint import mask
from audit.lazy import lazy
from audit.model import Stage
from audit.selectors import selection

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.context import ScanContext
    from audit.ledger import InForce, Ledger
    from audit.rulepack import Category, Gate, Rule
else:
    np = lazy("numpy")
    pd = lazy("pandas")

PARAMS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["gate"],
    "properties": {
        "gate": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]*$",
            "description": "Id of a consent gate of the rule's category.",
        },
    },
}

SUBJECT_NOUNS = {"org": "organisation", "pool": "pool", "user": "user"}

#: A hashed identifier: a hex digest (MD5 … SHA-512), a GUID, or base64 of a digest.
_HEX_DIGEST = re.compile(
    r"(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{56}|[0-9a-fA-F]{64}"
    r"|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})"
)
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}?")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_BASE64_LENGTHS = frozenset({22, 24, 27, 28, 43, 44, 86, 88})


def looks_hashed(value: str) -> bool:
    """Whether a subject has the shape of a digest rather than a name.

    Base64 needs a digest's length and a digit and both letter cases, so that a
    long user name without dots is not taken for a hash.
    """
    if _HEX_DIGEST.fullmatch(value) or _GUID.fullmatch(value):
        return True
    stripped = value.rstrip("=")
    return bool(
        len(value) in _BASE64_LENGTHS
        and _BASE64.fullmatch(value)
        and any(c.isdigit() for c in stripped)
        and any(c.islower() for c in stripped)
        and any(c.isupper() for c in stripped)
    )


def gate_of(rule: Rule, ctx: ScanContext) -> Gate:
    """The consent gate a rule names; a clear rule-file error when it does not exist."""
    gate_id = rule.params.get("gate")
    if ctx.rulepack is None:
        raise ValueError("the consent check needs the rule pack in the scan context")
    gates = ctx.rulepack.categories[rule.category].gates
    if gate_id not in gates:
        known = ", ".join(sorted(gates)) or "none"
        raise RuleFileError(
            f"rule {rule.id}: gate {gate_id!r} is not a consent gate of category "
            f"{rule.category!r} (known: {known})",
            path=rule.path,
            line=rule.line or None,
        )
    gate: Gate = gates[gate_id]
    return gate


def _stored_user_test(gate: Gate, ledger: Ledger, forced: InForce) -> None:
    """At rest, decide a user-scope gate only if the ledger uses the stored (hashed) form."""
    subjects = ledger.subjects(gate.scope, gate.setting)
    if not len(subjects):
        raise NotTested(
            f"stored UserIDs are hashed and the ledger has no {gate.setting} record in "
            "hashed form: opt-in cannot be decided"
        )
    if not all(looks_hashed(s) for s in subjects):
        raise NotTested(
            f"stored UserIDs are hashed but the ledger's {gate.setting} subjects are not: "
            "give them in the same hashed form to decide opt-in at rest"
        )
    if forced.decidable.any() and not forced.recorded[forced.decidable].any():
        raise NotTested(
            f"no stored UserID matches a hashed {gate.setting} subject of the ledger: "
            "the ledger is not in the stored hashed form"
        )


def _iso_all(times: pd.Series | pd.DatetimeIndex) -> list[str | None]:
    """UTC ISO 8601 with a Z, seconds always, microseconds only when present; None for NaT.

    Each distinct time is formatted once (ledger records share a few instants)."""
    codes, distinct = pd.factorize(pd.DatetimeIndex(times))
    stamps = pd.DatetimeIndex(distinct).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = [t.replace(".000000Z", "Z") for t in stamps]
    return [None if c < 0 else text[c] for c in codes.tolist()]


def _explanations(gate: Gate, forced: InForce, rows: np.ndarray) -> np.ndarray:
    """One explanation per row of ``rows`` (positions in ``forced``), formatted once per
    distinct ledger record (or default)."""
    # key: the ledger line; -1: default before the subject's first record; -2: no record
    line = forced.line[rows]
    key = np.where((line < 0) & ~forced.recorded[rows], -2, line)
    codes, uniques = pd.factorize(key)
    first = np.zeros(len(uniques), dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # first row of each key
    values = np.where(forced.value[rows][first], "true", "false")
    stamps = _iso_all(pd.DatetimeIndex(forced.since[rows][first]).tz_localize("UTC"))
    noun = SUBJECT_NOUNS.get(gate.scope, gate.scope)
    required = f"; sending requires {str(gate.allowed).lower()}"
    default_texts = {
        -1: f"(default: before the first ledger record for this {noun})",
        -2: f"(default: no ledger record for this {noun})",
    }
    texts = [
        f"{gate.setting} was {value} since {stamp} (ledger line {k}){required}"
        if k >= 0
        else f"{gate.setting} was {value} {default_texts[int(k)]}{required}"
        for k, value, stamp in zip(uniques, values, stamps, strict=True)
    ]
    return np.asarray(texts, dtype=object)[codes]


def _empty_stats() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject": pd.Series(dtype=object),
            "line": pd.Series(dtype=np.int64),
            "events": pd.Series(dtype=np.int64),
            "violations": pd.Series(dtype=np.int64),
        }
    )


#: The consent timeline lists at most this many subjects per rule: those with the most
#: violations. Every violation is a finding anyway; the timeline shows the settings behind
#: them, and a ledger of a million records must not make the report as large.
MAX_TIMELINE_SUBJECTS = 100
#: … and at most this many changes of each listed subject (see :func:`kept_changes`).
MAX_TIMELINE_CHANGES = 50


def kept_changes(violations: np.ndarray, events: np.ndarray, most: int) -> np.ndarray:
    """Which of a subject's changes (in time order, its default first) the timeline lists
    when it has more than ``most``: the default, then each change with violations (most
    first) with the change that ended it, then the changes with the most events. Sorted
    positions; all of them when there are ``most`` or fewer."""
    n = len(violations)
    if n <= most:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[0] = True
    room = most - 1
    bad = np.flatnonzero(violations > 0)
    for p in bad[np.argsort(-violations[bad], kind="stable")].tolist():
        for q in (p, p + 1):
            if room and q < n and not keep[q]:
                keep[q], room = True, room - 1
        if not room:
            break
    if room:
        busy = np.flatnonzero((events > 0) & ~keep)
        keep[busy[np.argsort(-events[busy], kind="stable")][:room]] = True
    return np.flatnonzero(keep)


def summarize(rule: Rule, stats_frames: list[pd.DataFrame], ctx: ScanContext, *,
              max_subjects: int = MAX_TIMELINE_SUBJECTS,
              max_changes: int = MAX_TIMELINE_CHANGES) -> dict[str, Any]:
    """The consent timeline: the subjects with violations, most first, with the changes
    of the setting behind them.

    A subject's changes are its default (``since`` null) followed by each of its
    ledger records, with whether its value allowed sending (``allowed``, from the
    gate), the events that fell under each and how many of them were violations.
    User subjects are masked; org and pool names are not personal data and stay
    readable.

    The timeline is bounded: ``max_subjects`` subjects, each with at most ``max_changes``
    changes (:func:`kept_changes`). A subject cut short says how many changes it has
    (``changes_total``) and its exact ``events`` and ``violations``; a listed change
    followed by left-out ones says until when it held (``until``) and how many follow
    (``omitted_after``). When anything was left out, ``consent_timeline_cut`` says what,
    with exact totals. Only the listed changes are formatted, so the cost follows the
    bound, not the ledger.
    """
    frames = [f for f in stats_frames if len(f)]
    if not frames or ctx.ledger is None:
        return {"consent_timeline": []}
    gate = gate_of(rule, ctx)
    counts = (
        pd.concat(frames, ignore_index=True)
        .groupby(["subject", "line"], sort=False)[["events", "violations"]]
        .sum()
    )
    per_subject = counts.groupby(level="subject")[["events", "violations"]].sum()
    per_subject = per_subject[per_subject["violations"] > 0]
    if per_subject.empty:
        return {"consent_timeline": []}
    ranked = per_subject.reset_index().sort_values(
        ["violations", "subject"], ascending=[False, True], kind="stable")
    chosen = ranked.iloc[:max_subjects]
    rank = dict(zip(chosen["subject"], range(len(chosen)), strict=True))
    records = ctx.ledger.records_of(gate.scope, gate.setting)
    total_changes = len(per_subject) + int(records["subject"].isin(per_subject.index).sum())
    mine = records[records["subject"].isin(chosen["subject"])]
    changes = pd.concat(
        [
            pd.DataFrame({"subject": chosen["subject"], "value": gate.default, "line": -1}),
            mine[["subject", "since", "value", "line"]],
        ],
        ignore_index=True,
    )
    changes["line"] = changes["line"].astype(np.int64)
    changes = changes.merge(counts.reset_index(), on=["subject", "line"], how="left")
    changes[["events", "violations"]] = changes[["events", "violations"]].fillna(0).astype(int)
    changes["rank"] = changes["subject"].map(rank).astype(np.int64)
    changes = changes.sort_values(["rank", "since", "line"], na_position="first",
                                  kind="stable").reset_index(drop=True)
    subjects = changes["subject"].to_numpy(dtype=object)
    violations = changes["violations"].to_numpy()
    events = changes["events"].to_numpy()
    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    ends = np.r_[starts[1:], len(subjects)]
    kept = [a + kept_changes(violations[a:b], events[a:b], max_changes)
            for a, b in zip(starts, ends, strict=True)]
    listed = np.concatenate(kept)
    # After each listed change: how many of its subject's changes follow unlisted.
    following = np.concatenate([np.r_[k[1:], b] - k - 1 for k, b in zip(kept, ends,
                                                                          strict=True)])
    cut = following > 0
    until = _iso_all(changes["since"].iloc[listed[cut] + 1])  # when the listed one ended
    values = changes["value"].to_numpy(dtype=bool)[listed]
    lines = changes["line"].to_numpy()[listed]
    rows = [
        {
            "since": stamp,
            "value": bool(value),
            "allowed": bool(value) == gate.allowed,
            "ledger_line": int(line) if line >= 0 else None,
            "events": int(events[i]),
            "violations": int(violations[i]),
        }
        for i, stamp, value, line in zip(listed.tolist(), _iso_all(changes["since"].iloc[listed]),
                                         values, lines, strict=True)
    ]
    for at, stamp, skipped in zip(np.flatnonzero(cut).tolist(), until,
                                  following[cut].tolist(), strict=True):
        rows[at].update(until=stamp, omitted_after=skipped)
    timeline = []
    at = 0
    for a, b, positions in zip(starts.tolist(), ends.tolist(), kept, strict=True):
        subject = subjects[a]
        entry: dict[str, Any] = {
            "rule": rule.id,
            "scope": gate.scope,
            "setting": gate.setting,
            "subject": mask(subject, ctx.key) if gate.scope == "user" else subject,
            "changes": rows[at:at + len(positions)],
        }
        if len(positions) < b - a:
            entry["changes_total"] = b - a
            entry["events"] = int(per_subject.at[subject, "events"])
            entry["violations"] = int(per_subject.at[subject, "violations"])
        timeline.append(entry)
        at += len(positions)
    out: dict[str, Any] = {"consent_timeline": timeline}
    if len(chosen) < len(per_subject) or len(listed) < len(subjects):
        out["consent_timeline_cut"] = [_cut_note(
            rule, gate, per_subject, len(chosen), total_changes, len(listed),
            int(violations[listed].sum()), max_changes)]
    return out


def _cut_note(rule: Rule, gate: Gate, per_subject: pd.DataFrame, subjects: int,
              changes: int, listed: int, violations_listed: int, max_changes: int
              ) -> dict[str, Any]:
    """What the timeline of one rule left out, in numbers and in words."""
    violations = int(per_subject["violations"].sum())
    message = (
        f"{rule.id}: {len(per_subject):,} subject{'' if len(per_subject) == 1 else 's'} "
        f"had violations; the timeline lists the {subjects:,} with the most, each with at "
        f"most {max_changes:,} changes (its default, the changes with violations and those "
        f"that ended them, then the busiest): {listed:,} of {changes:,} changes, covering "
        f"{violations_listed:,} of {violations:,} violations. Every violation is a finding."
    )
    return {
        "rule": rule.id,
        "scope": gate.scope,
        "setting": gate.setting,
        "subjects": len(per_subject),
        "subjects_listed": subjects,
        "changes": changes,
        "changes_listed": listed,
        "violations": violations,
        "violations_listed": violations_listed,
        "max_changes": max_changes,
        "message": message,
    }


def compact_stats(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Sum per-chunk counts by (subject, ledger line): one row per state a subject was in."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return []
    joined = pd.concat(frames, ignore_index=True)
    summed = joined.groupby(["subject", "line"], sort=False)[["events", "violations"]].sum()
    return [summed.reset_index()]


def validate_gate(params: Mapping[str, Any], gates: Mapping[str, Gate], fields: Any) -> str | None:
    """At load time: the gate a consent rule names must be declared in its file."""
    if params.get("gate") in gates:
        return None
    known = ", ".join(sorted(gates)) or "none"
    return f"gate {params.get('gate')!r} is not a consent gate of this file (known: {known})"


def consent_scope(rule: Rule, category: Category) -> Scope:
    """The events the rule's gate governs; without their subject or time nothing is decided."""
    gate = category.gates[rule.params["gate"]]
    return Scope(when=gate.when, unless=gate.unless, fields=(gate.subject, "time"))


@check_kind(
    "consent",
    compact=compact_stats,
    scope=consent_scope,
    needs=("ledger",),
    params_schema=PARAMS_SCHEMA,
    summarize=summarize,
    validate=validate_gate,
)
def consent(rule: Rule, events: pd.DataFrame, ctx: ScanContext) -> tuple[pd.DataFrame, Any]:
    """Events sent while the gate's setting did not hold its allowed value at event time.

    Subject keys and event times are worked out once per chunk for all the rows of the
    category (the chunk cache), and each gate takes its rows from them.
    """
    from audit.ledger import subject_keys

    gate = gate_of(rule, ctx)
    ledger: Ledger = ctx.ledger
    chosen = selection(events, gate.when, gate.unless)
    if not chosen.any() or gate.subject not in events.columns:
        return hits([]), _empty_stats()
    keys = shared(events, ("subject-keys", gate.scope, gate.subject), lambda: subject_keys(
        gate.scope, events[gate.subject]).to_numpy(dtype=object))[chosen]
    when = _times(events, chosen)
    forced = ledger.at(gate.scope, gate.setting, keys, when, gate.default)
    if ctx.stage is Stage.STORED and gate.scope == "user":
        _stored_user_test(gate, ledger, forced)

    decided = np.flatnonzero(forced.decidable)
    violating = forced.value[decided] != gate.allowed
    stats = _stats(keys[decided], forced.line[decided], violating)
    bad = decided[violating]
    found = hits(
        events.index[chosen][bad],
        field=None,
        value=keys[bad],
        detector="ledger",
        explanation=_explanations(gate, forced, bad) if len(bad) else None,
    )
    return found, stats


def _times(events: pd.DataFrame, chosen: np.ndarray) -> np.ndarray:
    """The chosen rows' event times (UTC, naive datetime64[ns]; NaT where not ISO 8601),
    the column parsed once per chunk for every gate, and for the schema check."""
    from audit.ledger import chunk_times, event_times

    if "time" not in events.columns:
        return np.full(int(chosen.sum()), np.datetime64("NaT", "ns"))
    times = shared(events, ("event-times",), lambda: event_times(
        events["time"], chunk_times(events, "time")).dt.tz_convert(None).to_numpy(
            dtype="datetime64[ns]"))
    return times[chosen]


def _stats(subjects: np.ndarray, lines: np.ndarray, violating: np.ndarray) -> pd.DataFrame:
    """Events and violations per (subject, ledger line; -1 for the default)."""
    if not len(subjects):
        return _empty_stats()
    subject_codes, subject_values = pd.factorize(subjects)
    line_codes, line_values = pd.factorize(lines)
    pair_codes, pairs = pd.factorize(subject_codes.astype(np.int64) * len(line_values)
                                     + line_codes)
    return pd.DataFrame({
        "subject": np.asarray(subject_values, dtype=object)[pairs // len(line_values)],
        "line": np.asarray(line_values, dtype=np.int64)[pairs % len(line_values)],
        "events": np.bincount(pair_codes, minlength=len(pairs)).astype(np.int64),
        "violations": np.bincount(pair_codes, weights=violating,
                                  minlength=len(pairs)).astype(np.int64),
    })
