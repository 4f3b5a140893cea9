"""The short summary printed on the terminal after a scan (not a file format)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

from audit.model import STATUS_ORDER, Report, Status

MARKS = {
    Status.PASSED: "pass",
    Status.FAILED: "FAIL",
    Status.ACCEPTED: "accepted",
    Status.NOT_TESTED: "NOT TESTED",
    Status.NOT_APPLICABLE: "not applicable",
    Status.EXCLUDED: "excluded",
    Status.ERROR: "ERROR",
}

#: Rows of the table: the rules a reader must look at (the others are counted).
LISTED = (Status.ERROR, Status.FAILED, Status.NOT_TESTED, Status.ACCEPTED)


def render_terminal(report: Report, written: Sequence[Path] = ()) -> str:
    """Verdict, counts, one row per rule that did not simply pass, the reasons the
    verdict is incomplete, and the files written."""
    s = report.summary
    listed = sorted((o for o in report.outcomes if o.status in LISTED),
                    key=lambda o: (STATUS_ORDER[o.status], -o.severity.rank, o.rule))
    rows = []
    for o in listed:
        why = o.reason or ""
        if o.status is Status.ACCEPTED or (o.accepted and o.acceptances):
            why = "; ".join(f"{a.findings} accepted: {a}" for a in o.acceptances)
        rows.append((o.rule, o.severity.value, MARKS[o.status], o.findings, why))
    counts = (f"findings {s.findings_total}: {s.findings_active} active, "
              f"{s.suppressed} accepted by the baseline, {s.expired} with an expired "
              "acceptance") if s.suppressed or s.expired else f"findings {s.findings_total}"
    lines = [
        f"telemetry-audit {report.tool['version']} — stage {report.run['stage']}",
        f"records read {s.records_read}, audited {s.records_audited}, "
        f"rejected {s.records_rejected}; {counts}",
        "",
    ]
    if rows:
        lines.append(tabulate(rows, headers=("rule", "severity", "result", "findings",
                                             "reason"), tablefmt="simple"))
        lines.append("")
    by_status = {status: sum(1 for o in report.outcomes if o.status is status)
                 for status in Status}
    lines.append(", ".join(f"{n} {MARKS[status].lower()}" for status, n in by_status.items()
                           if n) + f" ({len(report.outcomes)} rules)")
    lines += [f"wrote {p}" for p in written]
    if s.gaps:
        lines += ["", "the audit is incomplete:"]
        lines += [f"  - {gap.message}" for gap in s.gaps]
    lines.append(f"verdict: {s.verdict.upper()} (fail on {s.fail_on.value} and above)"
                 + _exit_note(report))
    return "\n".join(lines)


def _exit_note(report: Report) -> str:
    if report.incomplete and report.run.get("parameters", {}).get("allow_incomplete"):
        return "; exit 0: --allow-incomplete"
    return ""
