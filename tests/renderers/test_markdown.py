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
    assert "## Not tested" in doc and "no --ledger given" in doc


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
