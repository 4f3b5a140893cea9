"""The short summary printed on the terminal after a scan (not a file format)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

from audit.model import Report, Status

MARKS = {
    Status.PASSED: "pass",
    Status.FAILED: "FAIL",
    Status.NOT_TESTED: "not tested",
    Status.ERROR: "ERROR",
}


def render_terminal(report: Report, written: Sequence[Path] = ()) -> str:
    """Verdict, counts, one row per rule that did not simply pass, and the files written."""
    s = report.summary
    rows = [
        (o.rule, o.severity.value, MARKS[o.status], o.findings, o.reason or "")
        for o in report.outcomes
        if o.status is not Status.PASSED
    ]
    lines = [
        f"telemetry-audit {report.tool['version']} — stage {report.run['stage']}",
        f"records read {s.records_read}, audited {s.records_audited}, "
        f"rejected {s.records_rejected}; findings {s.findings_total}"
        + (f" ({s.suppressed} suppressed by baseline)" if s.suppressed else ""),
        "",
    ]
    if rows:
        lines.append(
            tabulate(
                rows,
                headers=("rule", "severity", "result", "findings", "reason"),
                tablefmt="simple",
            )
        )
    else:
        lines.append(f"all {len(report.outcomes)} rules passed")
    passed = sum(1 for o in report.outcomes if o.status is Status.PASSED)
    lines += [
        "",
        f"{passed} rules passed, {len(rows)} listed above",
        *(f"wrote {p}" for p in written),
        f"verdict: {s.verdict.upper()} (fail on {s.fail_on.value} and above)",
    ]
    return "\n".join(lines)
