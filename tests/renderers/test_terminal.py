"""The terminal summary: the rules to look at, why the audit is incomplete, the verdict."""

from __future__ import annotations

from report_factory import ACCEPTANCE

from audit.renderers.terminal import render_terminal


def test_lists_failed_not_tested_and_accepted_rules_and_the_verdict(report):
    text = render_terminal(report)
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("census/device-id-not-random"))
    assert "accepted" in row and f"1 accepted: {ACCEPTANCE}" in row
    row = next(line for line in lines if line.startswith("error/no-opt-in"))
    assert "NOT TESTED" in row and "no --ledger given" in row
    # Not applicable and excluded rules are counted, not listed.
    assert not any(line.startswith("error/cleartext-user-id-at-rest") for line in lines)
    assert "1 not applicable" in text and "1 excluded" in text
    assert lines[-1] == "verdict: FAIL (fail on high and above)"


def test_says_why_the_audit_is_incomplete(report_factory):
    report = report_factory([])
    text = render_terminal(report)
    assert text.splitlines()[-1].startswith("verdict: INCOMPLETE")
    reasons = text[text.index("the audit is incomplete:"):]
    for gap in report.summary.gaps:
        assert f"  - {gap.message}" in reasons


def test_counts_total_active_and_accepted(report):
    s = report.summary
    line = render_terminal(report).splitlines()[1]
    assert f"findings {s.findings_total}: {s.findings_active} active, {s.suppressed} " \
           "accepted by the baseline, 1 with an expired acceptance" in line
