"""``report.md``: a short summary for CI job pages and pull-request comments.

Those pages render Markdown *and* inline HTML, so every value from the dump is
escaped for both: a pipe must not break a table, a newline must not end one,
and ``<img onerror=…>`` or ``[x](javascript:…)`` must show as text.
"""

from __future__ import annotations

import re

from tabulate import tabulate

from audit.finding_store import most_severe
from audit.locations import where
from audit.model import STATUS_ORDER, Report, Severity, Status, Verdict
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


VERDICT_ICONS = {Verdict.PASS: "\u2705", Verdict.FAIL: "\u274c", Verdict.INCOMPLETE: "\u26a0\ufe0f"}


def render_text(report: Report) -> str:
    """The Markdown document as text."""
    s = report.summary
    blocking = sum(int(n) for sev, n in s.findings_by_severity.items()
                   if Severity(sev).rank >= s.fail_on.rank)
    verdict = Verdict(s.verdict)
    out = [
        "# Telemetry audit",
        "",
        f"{VERDICT_ICONS[verdict]} **Verdict: {escape(verdict.value.upper())}** \u2014 "
        f"{blocking} active finding(s) at or above `{s.fail_on.value}` "
        f"(stage `{escape(report.run.get('stage', '?'))}`).",
        "",
    ]
    if s.gaps:
        out += ["## Not audited", "", "The verdict does not vouch for:", ""]
        out += [f"- {escape(gap.message)}" for gap in s.gaps]
        out.append("")
    if (report.run.get("parameters") or {}).get("show_evidence"):
        out += ["> **Warning:** evidence is shown unmasked in this run's reports.", ""]

    counts = [
        ["records read", f"{s.records_read:,}"],
        ["records audited", f"{s.records_audited:,}"],
        ["records rejected", f"{s.records_rejected:,}"],
        ["files skipped", f"{s.skipped_inputs:,}"],
        ["findings (total)", f"{s.findings_total:,}"],
        ["findings active", f"{s.findings_active:,}"],
        ["findings accepted by the baseline", f"{s.suppressed:,}"],
        ["active again: acceptance expired", f"{s.expired:,}"],
    ]
    counts += [[f"active {sev.value}", f"{int(s.findings_by_severity.get(sev.value, 0)):,}"]
               for sev in Severity]
    out += ["## Counts", "", _table(counts, ["", "count"]), ""]

    outcomes = sorted(report.outcomes,
                      key=lambda o: (STATUS_ORDER[o.status], -o.severity.rank, o.rule))
    rows = [[_code(o.rule), escape(o.severity.value), escape(o.status.label),
             str(o.findings), str(o.accepted), escape(o.reason or "")] for o in outcomes]
    out += ["## Rules", "", _table(rows, ["rule", "severity", "status", "active", "accepted",
                                          "reason"]), ""]

    active = s.findings_active
    if active:
        top = most_severe(report.findings, TOP_FINDINGS)
        rows = [[escape(f.severity.value), _code(f.rule),
                 escape(where(f.source, f.line, f.location)),
                 _code(f.field) if f.field else "", escape(f.message),
                 _code(f.evidence) if f.evidence else ""] for f in top]
        out += [f"## Top findings ({len(top)} of {active:,} active)", "",
                _table(rows, ["severity", "rule", "location", "field", "message", "evidence"]),
                ""]

    accepted = [o for o in outcomes if o.acceptances]
    if accepted:
        out += ["## Accepted by the baseline", ""]
        for o in accepted:
            state = "accepted" if o.status is Status.ACCEPTED else o.status.label
            out.append(f"- {_code(o.rule)} ({escape(state)}):")
            out += [f"  - {a.findings} finding(s): {escape(str(a))}" for a in o.acceptances]
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
