"""report.md: verdict first, tables that survive pipes, newlines and HTML in the data."""

from __future__ import annotations

from report_factory import make_finding

from audit.model import Severity
from audit.renderers import markdown


def text(report) -> str:
    return markdown.render(report).decode("utf-8")


def test_verdict_counts_outcomes_and_not_tested(report):
    doc = text(report)
    assert "**Verdict: FAIL**" in doc.splitlines()[2]
    assert "| records read" in doc
    assert "`census/unhashed-user-id`" in doc
    row = next(line for line in doc.splitlines() if "`error/no-opt-in`" in line)
    assert "| not tested " in row and "no --ledger given" in row
    row = next(line for line in doc.splitlines() if "`error/cleartext-user-id-at-rest`" in line)
    assert "| not applicable " in row and "applies at stage stored" in row
    row = next(line for line in doc.splitlines() if "`usage/meeting-telemetry-disabled`" in line)
    assert "| excluded " in row


def test_incomplete_reasons_follow_the_verdict(report_factory):
    report = report_factory([])
    doc = text(report)
    lines = doc.splitlines()
    assert lines[2].startswith("\u26a0\ufe0f **Verdict: INCOMPLETE**")
    listed = lines[lines.index("## Not audited"):lines.index("## Counts")]
    for gap in report.summary.gaps:
        assert f"- {markdown.escape(gap.message)}" in listed


def test_counts_are_labelled_total_active_accepted_expired(report):
    doc = text(report)
    s = report.summary

    def count(label: str) -> str:
        row = next(line for line in doc.splitlines() if line.startswith(f"| {label} "))
        return row.split("|")[2].strip()

    assert count("findings (total)") == str(s.findings_total) == "7"
    assert count("findings active") == str(s.findings_active) == "5"
    assert count("findings accepted by the baseline") == str(s.suppressed) == "2"
    assert count("active again: acceptance expired") == str(s.expired) == "1"
    assert "findings (active)" not in doc


def test_accepted_rules_show_reason_owner_and_expiry(report):
    doc = text(report)
    row = next(line for line in doc.splitlines() if "`census/device-id-not-random`" in line)
    assert "| accepted " in row and "| passed" not in row
    section = doc[doc.index("## Accepted by the baseline"):]
    assert "`census/device-id-not-random` (accepted)" in section
    assert "lab devices &lt;b&gt;reuse&lt;/b&gt; a nil id (owner release-eng, until " \
           "2999-12-31)" in section


def test_pipes_newlines_and_html_are_escaped(report_factory):
    finding = make_finding("census/identifies-user", Severity.HIGH,
                           message="a|b\nc <img src=x onerror=alert(1)> [x](javascript:1)",
                           source="dir|x.jsonl", evidence="ev|`id`")
    doc = text(report_factory([finding]))
    row = next(line for line in doc.splitlines() if "dir" in line and "onerror" in line)
    assert "a\\|b c &lt;img src=x onerror=alert(1)&gt;" in row
    assert "\\[x\\](javascript:1)" in row
    assert "dir\\|x.jsonl" in row
    assert "`ev\\|'id'`" in row
    # every table row still has the same number of unescaped pipes as the header
    lines = doc.splitlines()
    header = next(line for line in lines if "| location" in line and "| evidence" in line)

    def cells(line: str) -> int:
        return line.replace("\\|", "").count("|")

    assert cells(row) == cells(header)
    assert "<img" not in doc


def test_passing_report(report_factory):
    doc = text(report_factory([], outcomes=[], gaps=()))
    assert "**Verdict: PASS**" in doc
    assert "## Top findings" not in doc
