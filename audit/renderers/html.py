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
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from audit.finding_store import RuleDigest, digest_by_rule
from audit.model import STATUS_ORDER, Finding, Report, RuleOutcome, Severity, Status
from audit.renderers import charts, register

#: Findings listed per rule; the rest are counted, not listed.
MAX_ROWS_PER_RULE = 200

_STATUS_LABEL = {status: status.label for status in Status}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Autoescaping is forced on for every template, whatever its suffix."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("audit.renderers", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


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


def _severity_counts_by_rule(digests: Mapping[str, RuleDigest]) -> dict[str, dict[str, int]]:
    return {rule: dict(d.severities) for rule, d in digests.items() if d.severities}


def _control_matrix(report: Report) -> tuple[list[dict[str, Any]], list[RuleOutcome]]:
    """Each practices statement with the rules that test it; and rules mapped to none."""
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
        if not rules:
            state = "gap"
        elif any(o.status in (Status.FAILED, Status.ERROR) for o in rules):
            state = "failed"
        elif any(o.status is Status.NOT_TESTED for o in rules):
            state = "partial"
        else:
            state = "passed"
        rows.append({"id": sid, "text": text, "rules": rules, "state": state})
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
    timeline = report.extras.get("consent_timeline")
    if isinstance(timeline, Sequence) and timeline:
        svg = charts.consent_timeline(timeline)
        if svg:
            out["consent"] = Markup(svg)
    return out


def _location(finding: Finding) -> str:
    return f"{finding.source}:{finding.line}"


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
    return {
        "tool": report.tool,
        "run": report.run,
        "params": params,
        "summary": summary,
        "verdict": (summary.verdict or "").lower(),
        "severities": [(s.value, int(summary.findings_by_severity.get(s.value, 0)))
                       for s in Severity],
        "status_counts": {s.value: status_counts.get(s, 0) for s in Status},
        "matrix": matrix,
        "unmapped": unmapped,
        "outcomes": outcomes,
        "not_tested": [o for o in outcomes if o.status is Status.NOT_TESTED],
        "groups": groups,
        "anchors": {g.rule: f"rule-{i}" for i, g in enumerate(groups, 1)},
        "cap": cap,
        "charts": _charts(report, digests),
        "consent": report.extras.get("consent_timeline") or [],
        "show_evidence": bool(params.get("show_evidence")),
        "status_label": _STATUS_LABEL,
        "location": _location,
        "csp": content_security_policy(),
        "script": Markup(script),  # our own static file, allowed by its hash in the CSP
        "severity_rank": {s.value: s.rank for s in Severity},
    }


@register("html", "report.html")
def render(report: Report) -> bytes:
    """Render ``report`` as one self-contained HTML document."""
    template = _environment().get_template("report.html.j2")
    return template.render(**build_context(report)).encode("utf-8")
