"""``report.md``: a short summary for CI job pages and pull-request comments.

Those pages render Markdown *and* inline HTML, so every value from the dump is
escaped for both: a pipe must not break a table, a newline must not end one,
and ``<img onerror=…>`` or ``[x](javascript:…)`` must show as text.
"""

from __future__ import annotations

import re

from tabulate import tabulate

from audit.finding_store import most_severe
from audit.model import STATUS_ORDER, Report, Severity, Status
from audit.renderers import register

#: Findings listed in the summary; the full list is in the other formats.
TOP_FINDINGS = 20
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def escape(value: object) -> str:
    """Inline-safe text: HTML entities, Markdown punctuation escaped, one line."""
    text = "".join(_HTML.get(ch, ch) for ch in str(value))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"[\r\n\t\v\f\u2028\u2029]+", " ", text).strip()


def _code(value: object) -> str:
    """An identifier shown as code; backticks inside are not allowed to close it."""
    text = re.sub(r"\s+", " ", str(value)).replace("|", "\\|").replace("`", "'")
    return f"`{text}`" if text else ""


def _table(rows: list[list[object]], headers: list[str]) -> str:
    # Cells are escaped already; disable_numparse keeps fingerprints and ids as written.
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render_text(report: Report) -> str:
    """The Markdown document as text."""
    s = report.summary
    failed = report.failed
    icon = "\u274c" if failed else "\u2705"
    active = sum(int(n) for n in s.findings_by_severity.values())
    blocking = sum(int(n) for sev, n in s.findings_by_severity.items()
                   if Severity(sev).rank >= s.fail_on.rank)
    out = [
        "# Telemetry audit",
        "",
        f"{icon} **Verdict: {escape(s.verdict.upper())}** \u2014 {blocking} active finding(s) "
        f"at or above `{s.fail_on.value}` (stage `{escape(report.run.get('stage', '?'))}`).",
        "",
    ]
    if (report.run.get("parameters") or {}).get("show_evidence"):
        out += ["> **Warning:** evidence is shown unmasked in this run's reports.", ""]

    counts = [
        ["records read", f"{s.records_read:,}"],
        ["records audited", f"{s.records_audited:,}"],
        ["records rejected", f"{s.records_rejected:,}"],
        ["findings (active)", f"{s.findings_total:,}"],
        ["suppressed by baseline", f"{s.suppressed:,}"],
        ["baseline expired", f"{s.expired:,}"],
    ]
    counts += [[f"severity {sev.value}", f"{int(s.findings_by_severity.get(sev.value, 0)):,}"]
               for sev in Severity]
    out += ["## Counts", "", _table(counts, ["", "count"]), ""]

    outcomes = sorted(report.outcomes,
                      key=lambda o: (STATUS_ORDER[o.status], -o.severity.rank, o.rule))
    rows = [[_code(o.rule), escape(o.severity.value), escape(o.status.value.replace("_", " ")),
             str(o.findings), escape(o.reason or "")] for o in outcomes]
    out += ["## Rules", "", _table(rows, ["rule", "severity", "status", "findings", "reason"]), ""]

    if active:
        top = most_severe(report.findings, TOP_FINDINGS)
        rows = [[escape(f.severity.value), _code(f.rule), escape(f"{f.source}:{f.line}"),
                 _code(f.field) if f.field else "", escape(f.message),
                 _code(f.evidence) if f.evidence else ""] for f in top]
        out += [f"## Top findings ({len(top)} of {active:,})", "",
                _table(rows, ["severity", "rule", "location", "field", "message", "evidence"]),
                ""]

    not_tested = [o for o in outcomes if o.status is Status.NOT_TESTED]
    if not_tested:
        out += ["## Not tested", ""]
        out += [f"- {_code(o.rule)}: {escape(o.reason or 'no reason given')}" for o in not_tested]
        out.append("")
    errors = [o for o in outcomes if o.status is Status.ERROR]
    if errors:
        out += ["## Errors", ""]
        out += [f"- {_code(o.rule)}: {escape(o.reason or 'check error')}" for o in errors]
        out.append("")
    tool = report.tool
    out.append(f"<sub>{escape(tool.get('name', 'telemetry-audit'))} "
               f"{escape(tool.get('version', ''))} \u00b7 rule pack "
               f"{_code((report.run.get('rulepack') or {}).get('digest', ''))}</sub>")
    return "\n".join(out) + "\n"


@register("md", "report.md")
def render(report: Report) -> bytes:
    """Render ``report`` as a Markdown CI summary."""
    return render_text(report).encode("utf-8")
