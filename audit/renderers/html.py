"""``report.html``: one self-contained page for auditors and reviewers.

The page must open offline and must not become an attack surface: the dump is
untrusted, so every value goes through Jinja2 autoescaping, the only script is
our own static one (allowed by its SHA-256 in the Content-Security-Policy), and
styles, charts and icons are inline. Large dumps stay usable because each rule
lists at most :data:`MAX_ROWS_PER_RULE` findings while every count stays exact.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from audit.finding_store import RuleDigest, digest_by_rule
from audit.locations import entries_summary
from audit.model import (
    STATUS_ORDER,
    BaselineStatus,
    Finding,
    Gap,
    Report,
    RuleOutcome,
    Severity,
    Status,
    Verdict,
)
from audit.renderers import charts, register
from audit.renderers.rejected import PER_REASON, summarize_rejected
from audit.renderers.rejected import RULE as REJECTED_RULE

#: Findings listed per rule; the rest are counted, not listed.
MAX_ROWS_PER_RULE = 200

_STATUS_LABEL = {status: status.label for status in Status}

#: What each rule status means, as the page explains it.
STATUS_MEANING: Mapping[Status, str] = {
    Status.PASSED: "tested, no finding",
    Status.FAILED: "tested, active findings",
    Status.ACCEPTED: "tested; every finding is accepted by the baseline (a reason, an owner "
                     "and an expiry), which is not the same as passed",
    Status.NOT_TESTED: "applied, but could not decide for lack of input (a ledger, a field "
                       "it needs): the verdict does not vouch for it",
    Status.NOT_APPLICABLE: "nothing to test in this scan (another stage, or no events of "
                           "its category or selection)",
    Status.EXCLUDED: "left out of this scan with --skip-rule",
    Status.ERROR: "the check itself failed: counted as failed",
}

#: The states of a practices statement in the control matrix, worst first, with what
#: each means (the legend; :func:`_statement_state` decides them).
MATRIX_STATES: tuple[tuple[str, str, str], ...] = (
    ("failed", "failed", "a rule that tests it failed or could not run (error)"),
    ("not_tested", "not tested", "none of its applicable rules could be tested"),
    ("partial", "partial", "some of its rules were tested, others not tested"),
    ("accepted", "accepted", "none failed, but the findings of some are accepted by the "
                             "baseline"),
    ("passed", "passed", "every rule that tests it was tested and passed"),
    ("not_applicable", "not applicable", "all its rules are not applicable to this scan "
                                         "or excluded"),
    ("gap", "gap", "no rule of the pack tests it"),
)
_MATRIX_LABEL = {key: label for key, label, _ in MATRIX_STATES}

#: Gap codes in words, for the verdict box.
_GAP_TITLES = {"no-records": "no records", "rejected": "rejected input",
               "not-tested": "rules not tested"}

#: Baseline states of a finding in words: a suppressed finding is accepted.
BASELINE_LABEL: Mapping[str, str] = {
    BaselineStatus.ACTIVE.value: "active",
    BaselineStatus.SUPPRESSED.value: "accepted",
    BaselineStatus.EXPIRED.value: "expired",
}

_PATH_PARTS = re.compile(r"(?<=[/\\])")
_WORDS = re.compile(r"\w+")


def wrap_path(value: object) -> Markup:
    """A file name that may wrap after each ``/`` or ``\\``: each part is escaped and a
    ``<wbr>`` (our own markup, never data) follows each separator."""
    parts = _PATH_PARTS.split("" if value is None else str(value))
    return Markup("<wbr>").join(escape(part) for part in parts)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Autoescaping is forced on for every template, whatever its suffix."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("audit.renderers", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["wrap_path"] = wrap_path
    return env


@lru_cache(maxsize=1)
def _script() -> tuple[str, str]:
    """Our inline script and its CSP hash source (``'sha256-…'``)."""
    source = _environment().loader.get_source(_environment(), "report.js")[0]  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    return source, f"'sha256-{digest}'"


def content_security_policy() -> str:
    """Nothing may load from anywhere; only our own inline script may run."""
    return "; ".join([
        "default-src 'none'",
        f"script-src {_script()[1]}",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "font-src 'none'",
        "connect-src 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ])


@dataclass(slots=True)
class _Group:
    """The findings of one rule, capped for the page but counted exactly."""

    rule: str
    outcome: RuleOutcome | None
    total: int = 0
    active: int = 0
    rows: list[Finding] = field(default_factory=list)

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)


def _group_findings(digests: Mapping[str, RuleDigest], outcomes: Sequence[RuleOutcome]
                    ) -> list[_Group]:
    """The rules with findings, worst first: their first findings and their counts."""
    by_rule = {o.rule: o for o in outcomes}
    groups = [_Group(rule, by_rule.get(rule), total=d.total, active=d.active, rows=d.rows)
              for rule, d in digests.items() if d.total]

    def order(g: _Group) -> tuple[int, int, str]:
        sev = g.outcome.severity if g.outcome else g.rows[0].severity
        return (-sev.rank, -g.total, g.rule)

    return sorted(groups, key=order)


#: (file, reason) pairs of rejected records the page counts apart.
REJECTED_PAIRS_SHOWN = 20


def _rejected(report: Report, groups: list[_Group], cap: int) -> dict[str, Any] | None:
    """When there are more rejected records than the page lists: their counts by file and
    reason, and as the rule's rows the first of each pair (see
    :mod:`audit.renderers.rejected`) rather than the first of the file only."""
    group = next((g for g in groups if g.rule == REJECTED_RULE), None)
    if group is None or group.total <= cap:
        return None
    summary = summarize_rejected(report.findings, per_reason=min(PER_REASON, cap), most=cap,
                                 rows=True)
    group.rows = summary.rows
    shown = summary.largest(REJECTED_PAIRS_SHOWN)
    rest = summary.total - sum(g.count for g in shown)
    return {
        "pairs": [{"source": g.source, "reason": g.reason, "count": f"{g.count:,}",
                   "listed": f"{g.listed:,}"} for g in shown],
        "rest": f"{_plural(rest, 'more rejected record')} for other files and reasons"
                if rest else "",
        "note": f"The first {min(PER_REASON, cap):,} of each file and reason are listed, "
                f"{summary.listed:,} of {summary.total:,} in all; report.json lists every "
                "one.",
    }


def _severity_counts_by_rule(digests: Mapping[str, RuleDigest]) -> dict[str, dict[str, int]]:
    return {rule: dict(d.severities) for rule, d in digests.items() if d.severities}


def _statement_state(rules: Sequence[RuleOutcome]) -> str:
    """The state of one practices statement from the outcomes of the rules that test it.

    - ``gap``: no rule tests it;
    - ``not_applicable``: every rule is not applicable or excluded (nothing to decide);
    - ``failed``: any rule failed or errored;
    - ``not_tested``: none of its rules was tested (the rest are all not tested);
    - ``partial``: some were tested, some not tested;
    - ``accepted``: none failed, some accepted (the rest passed);
    - ``passed``: all the tested ones passed.

    Not applicable and excluded rules are left out of the last five (in that order):
    they neither test the statement nor leave it partial.
    """
    if not rules:
        return "gap"
    considered = [o.status for o in rules
                  if o.status not in (Status.NOT_APPLICABLE, Status.EXCLUDED)]
    if not considered:
        return "not_applicable"
    if any(st in (Status.FAILED, Status.ERROR) for st in considered):
        return "failed"
    untested = sum(st is Status.NOT_TESTED for st in considered)
    if untested == len(considered):
        return "not_tested"
    if untested:
        return "partial"
    if any(st is Status.ACCEPTED for st in considered):
        return "accepted"
    return "passed"


def _control_matrix(report: Report) -> tuple[list[dict[str, Any]], list[RuleOutcome]]:
    """Each practices statement with the rules that test it and its state (see
    :func:`_statement_state`); and the rules mapped to no statement of the pack."""
    rulepack = report.run.get("rulepack") or {}
    statements: Mapping[str, str] = rulepack.get("statements") or {}
    tested: dict[str, list[RuleOutcome]] = defaultdict(list)
    unmapped: list[RuleOutcome] = []
    for outcome in report.outcomes:
        if outcome.policy and outcome.policy in statements:
            tested[outcome.policy].append(outcome)
        else:
            unmapped.append(outcome)
    rows = []
    for sid, text in statements.items():
        rules = sorted(tested.get(sid, []), key=lambda o: (STATUS_ORDER[o.status], o.rule))
        state = _statement_state(rules)
        rows.append({"id": sid, "text": text, "rules": rules, "state": state,
                     "state_label": _MATRIX_LABEL[state]})
    unmapped.sort(key=lambda o: (STATUS_ORDER[o.status], o.rule))
    return rows, unmapped


def _charts(report: Report, digests: Mapping[str, RuleDigest]) -> dict[str, Markup]:
    """Inline SVG charts. They are built from counts, rule ids and (masked)
    ledger subjects that matplotlib has already XML-escaped, and
    :func:`charts._to_svg` rejects anything active, so they are marked safe."""
    out: dict[str, Markup] = {}
    by_rule = charts.findings_by_rule(_severity_counts_by_rule(digests))
    if by_rule:
        out["by_rule"] = Markup(by_rule)
    series = report.extras.get("events_over_time")
    if isinstance(series, Sequence) and series:
        svg = charts.over_time(series)
        if svg:
            out["over_time"] = Markup(svg)
    for entry in _entries(report, "k-anonymity")[:1]:  # the section shows the first
        svg = charts.k_histogram(entry.get("histogram") or [], int(entry.get("k", 0)))
        if svg:
            out["k_histogram"] = Markup(svg)
    timeline = report.extras.get("consent_timeline")
    if isinstance(timeline, Sequence) and timeline:
        svg = charts.consent_timeline(timeline)
        if svg:
            out["consent"] = Markup(svg)
    return out


def _entries(report: Report, analysis: str) -> list[Mapping[str, Any]]:
    """The report's re-identification summaries of one analysis."""
    entries = report.extras.get("reidentification")
    if not isinstance(entries, Sequence):
        return []
    return [e for e in entries if isinstance(e, Mapping) and e.get("analysis") == analysis]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def _reidentification(report: Report) -> dict[str, Any] | None:
    """The "Re-identification risk" section: k-anonymity, linkage and the stage
    comparison, from the summaries their rules reported (None when none ran)."""
    kanon, links, pairs = (_entries(report, a) for a in ("k-anonymity", "linkage",
                                                         "stage-pair"))
    if not (kanon or links or pairs):
        return None
    outcomes = {o.rule: o for o in report.outcomes}
    unpaired = [o for o in report.outcomes if o.status is Status.NOT_APPLICABLE
                and "--stored" in (o.reason or "")]
    return {
        "kanon": [{**e, "share": _share(e.get("devices_below_k", 0), e.get("devices", 0)),
                   "reason": getattr(outcomes.get(e.get("rule", "")), "reason", None)}
                  for e in kanon],
        "links": [{**e, "share": _share(e.get("devices_linked", 0), e.get("devices", 0)),
                   "fields": [(name, n) for name, n in (e.get("by_field") or {}).items() if n],
                   "categories": list((e.get("by_category") or {}).items()),
                   "identities": list((e.get("by_identity") or {}).items())} for e in links],
        "pairs": pairs,
        "unpaired": [o.rule for o in unpaired],
    }


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.casefold())


@lru_cache(maxsize=4096)
def _adds(message: str, explanation: str) -> bool:
    """Whether ``explanation`` says something ``message`` does not: it is not part of
    the message and has a word (of three letters or more) that no word of the message
    shares a stem with (``declared`` is covered by ``declare``)."""
    if f" {' '.join(_words(explanation))} " in f" {' '.join(_words(message))} ":
        return False
    said = set(_words(message))
    for word in _words(explanation):
        if len(word) < 3 or word in said:
            continue
        if not any(min(len(word), len(m)) >= 4 and (m.startswith(word) or word.startswith(m))
                   for m in said):
            return True
    return False


def explanation_shown(finding: Finding) -> str | None:
    """A finding's explanation when it adds to its message, else None (said once)."""
    explanation = finding.explanation
    if not explanation or not explanation.strip():
        return None
    return explanation if _adds(finding.message or "", explanation) else None


def _value_text(value: Any) -> str:
    """A run parameter in words: yes/no, none, lists joined, numbers grouped."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_value_text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(_value_text(v) for v in items) or "none"
    return str(value)


def _parameters(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run's parameters as (name, value) in words (``max_rejected`` → ``max rejected``),
    in the order the run gives them."""
    return [(str(name).replace("_", " "), _value_text(value)) for name, value in params.items()]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _acceptance_rows(outcome: RuleOutcome) -> list[dict[str, Any]]:
    """Each baseline acceptance of a rule in words: reason, owner, expiry, findings."""
    return [{"reason": a.reason, "owner": a.owner, "expires": a.expires,
             "expired": a.expired, "findings": _plural(a.findings, "finding")}
            for a in outcome.acceptances]


def _consent_rows(timeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The consent timeline for its table: ``default`` where a change has no ``since``,
    values as the ledger writes them, and whether each value allowed sending. Where the
    report left changes out (a subject with very many), a line says how many and from
    when, and the subject's exact counts stand beside it."""
    rows = []
    for entry in timeline:
        if not isinstance(entry, Mapping):
            continue
        raw = [c for c in entry.get("changes") or () if isinstance(c, Mapping)]
        changes = []
        for change, allowed in zip(raw, charts.allowed_flags(raw), strict=True):
            value = change.get("value")
            events = change.get("events")
            violations = int(change.get("violations") or 0)
            counts = [] if events is None else [_plural(int(events), "event")]
            if violations:
                counts.append(f"{violations:,} sent while blocked")
            skipped = int(change.get("omitted_after") or 0)
            changes.append({
                "since": change.get("since") or "default",
                "value": str(value).lower() if isinstance(value, bool) else
                         "" if value is None else str(value),
                "allowed": {True: "allowed", False: "blocked", None: ""}[allowed],
                "counts": ", ".join(counts),
                "omitted": f"{_plural(skipped, 'change')} from {change.get('until') or '?'} "
                           "not listed" if skipped else "",
            })
        total = entry.get("changes_total")
        cut = ""
        if isinstance(total, int) and total > len(changes):
            cut = (f"{len(changes):,} of {_plural(total, 'change')} listed; in all "
                   f"{_plural(int(entry.get('events') or 0), 'event')}, "
                   f"{int(entry.get('violations') or 0):,} sent while blocked")
        rows.append({"scope": entry.get("scope", ""), "subject": entry.get("subject", ""),
                     "setting": entry.get("setting", ""), "rule": entry.get("rule", ""),
                     "changes": changes, "cut": cut})
    return rows


def _consent_cuts(notes: object) -> list[str]:
    """What the consent timeline left out, one sentence per rule (from the consent check)."""
    if not isinstance(notes, Sequence) or isinstance(notes, str):
        return []
    return [str(n.get("message")) for n in notes if isinstance(n, Mapping) and n.get("message")]


def _verdict(report: Report) -> dict[str, Any]:
    """The verdict box: the verdict, what it rests on, and what it does not vouch for."""
    summary = report.summary
    verdict = Verdict(summary.verdict)
    fail_on = summary.fail_on.value
    blocking = sum(int(n) for sev, n in summary.findings_by_severity.items()
                   if Severity(sev).rank >= summary.fail_on.rank)
    if verdict is Verdict.FAIL:
        note = f"{_plural(blocking, 'active finding')} at or above {fail_on}"
    elif verdict is Verdict.INCOMPLETE:
        note = f"no active finding at or above {fail_on}, but not everything was audited"
    else:
        note = f"no active finding at or above {fail_on}; everything applicable audited"
    gaps = [{"code": g.code, "title": _GAP_TITLES.get(g.code, g.code), "message": g.message}
            for g in summary.gaps]
    return {
        "key": verdict.value,
        "text": verdict.value.upper(),
        "note": note,
        "gaps": gaps,
        "gaps_title": "Why incomplete" if verdict is Verdict.INCOMPLETE else "Not audited",
    }


def _out_of_scope(outcomes: Sequence[RuleOutcome], gaps: Sequence[Gap]
                  ) -> list[dict[str, Any]]:
    """Rules not tested, not applicable and excluded: which is which, and which rules.
    Their reasons are in the rule outcomes table, once; ``gap`` says that the not
    tested ones are among the reasons listed beside the verdict."""
    listed = {rule for gap in gaps if gap.code == "not-tested" for rule in gap.rules}
    out = []
    for status in (Status.NOT_TESTED, Status.NOT_APPLICABLE, Status.EXCLUDED):
        rules = [o.rule for o in outcomes if o.status is status]
        if rules:
            out.append({"status": status.value, "label": status.label,
                        "meaning": STATUS_MEANING[status], "rules": rules,
                        "gap": bool(listed.intersection(rules))})
    return out


def build_context(report: Report, *, cap: int = MAX_ROWS_PER_RULE) -> dict[str, Any]:
    """Everything the template shows, computed once in Python (testable, no logic in Jinja)."""
    summary = report.summary
    params = report.run.get("parameters") or {}
    matrix, unmapped = _control_matrix(report)
    outcomes = sorted(report.outcomes,
                      key=lambda o: (STATUS_ORDER[o.status], -o.severity.rank, o.rule))
    status_counts = Counter(o.status for o in report.outcomes)
    script, _ = _script()
    digests = digest_by_rule(report.findings, cap)  # one pass for the groups and a chart
    groups = _group_findings(digests, report.outcomes)
    rejected = _rejected(report, groups, cap)
    verdict = _verdict(report)
    return {
        "tool": report.tool,
        "run": report.run,
        "parameters": _parameters(params),
        "summary": summary,
        "verdict": verdict["key"],
        "verdict_box": verdict,
        "severities": [(s.value, int(summary.findings_by_severity.get(s.value, 0)))
                       for s in Severity],
        "status_counts": [(s.value, s.label, status_counts.get(s, 0))
                          for s in sorted(Status, key=STATUS_ORDER.__getitem__)],
        "status_meaning": STATUS_MEANING,
        "matrix": matrix,
        "matrix_states": MATRIX_STATES,
        "unmapped": unmapped,
        "outcomes": outcomes,
        "out_of_scope": _out_of_scope(outcomes, summary.gaps),
        "acceptances": {o.rule: _acceptance_rows(o) for o in report.outcomes if o.acceptances},
        "groups": groups,
        "anchors": {g.rule: f"rule-{i}" for i, g in enumerate(groups, 1)},
        "rejected": rejected,
        "rejected_rule": REJECTED_RULE,
        "cap": cap,
        "charts": _charts(report, digests),
        "consent": _consent_rows(report.extras.get("consent_timeline") or []),
        "reid": _reidentification(report),
        "consent_cuts": _consent_cuts(report.extras.get("consent_timeline_cut")),
        "show_evidence": bool(params.get("show_evidence")),
        "status_label": _STATUS_LABEL,
        "baseline_label": BASELINE_LABEL,
        "explanation": explanation_shown,
        "entries_summary": entries_summary,
        "csp": content_security_policy(),
        "script": Markup(script),  # our own static file, allowed by its hash in the CSP
    }


@register("html", "report.html")
def render(report: Report) -> bytes:
    """Render ``report`` as one self-contained HTML document."""
    template = _environment().get_template("report.html.j2")
    return template.render(**build_context(report)).encode("utf-8")
