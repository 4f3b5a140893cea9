"""report.junit.xml: parses, one testcase per rule, the right verdict per case, and
agrees with the exit code for every --fail-on."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st
from report_factory import ACCEPTANCE, MASKED_VALUE, RAW_VALUE, make_finding

from audit.model import BaselineStatus, Severity, Status
from audit.renderers import junit


def parse(report) -> ET.Element:
    return ET.fromstring(junit.render(report))


def test_one_testcase_per_rule_grouped_by_category(report):
    root = parse(report)
    cases = [c for c in root.findall("./testsuite/testcase")
             if c.get("name") != junit.COMPLETENESS_CASE]
    assert sorted(c.get("name") for c in cases) == sorted(o.rule for o in report.outcomes)
    for suite in root.findall("testsuite"):
        for case in suite.findall("testcase"):
            assert case.get("classname") == suite.get("name")
            assert case.get("name").startswith(suite.get("name") + "/")
    assert root.get("tests") == str(len(report.outcomes) + 1)


def case(root: ET.Element, rule: str) -> ET.Element:
    found = [c for c in root.iter("testcase") if c.get("name") == rule]
    assert len(found) == 1
    return found[0]


def test_statuses_map_to_failure_skipped_error_pass(report):
    root = parse(report)
    failure = case(root, "census/identifies-user").find("failure")
    assert failure is not None and failure.get("message") == "1 finding (high)"
    assert "dumps/sample.jsonl:4 DeviceModel: name in device model" in failure.text
    skipped = case(root, "error/no-opt-in").find("skipped")
    assert skipped is not None and skipped.get("message") == "not tested: no --ledger given"
    assert case(root, "error/watson-disabled").find("error") is not None
    assert list(case(root, "census/identifies-organization")) == []
    not_applicable = case(root, "error/cleartext-user-id-at-rest").find("skipped")
    assert not_applicable.get("message").startswith("not applicable: applies at stage stored")
    excluded = case(root, "usage/meeting-telemetry-disabled").find("skipped")
    assert excluded.get("message") == "excluded: excluded by --skip-rule usage/meeting-*"


def test_accepted_rule_passes_and_says_why(report):
    accepted = case(parse(report), "census/device-id-not-random")
    assert accepted.find("failure") is None and accepted.find("skipped") is None
    out = accepted.find("system-out").text
    assert "1 finding accepted by the baseline" in out
    assert ACCEPTANCE.reason in out and "owner release-eng" in out and "2999-12-31" in out


def test_failure_bodies_carry_each_message_masked(report):
    failure = case(parse(report), "census/unhashed-user-id").find("failure")
    assert failure.text == f"dumps/sample.jsonl:3 UserID: user-identifying value [{MASKED_VALUE}]"
    assert RAW_VALUE not in junit.render(report).decode("utf-8")


def test_incomplete_audit_is_a_skipped_case_with_every_reason(report, report_factory):
    completeness = case(parse(report), junit.COMPLETENESS_CASE)
    skipped = completeness.find("skipped")
    for gap in report.summary.gaps:
        assert gap.message in skipped.get("message")
        assert gap.message in skipped.text
    complete = case(parse(report_factory(gaps=())), junit.COMPLETENESS_CASE)
    assert list(complete) == []


def test_findings_below_fail_on_pass_with_system_out(report_factory):
    findings = [make_finding("census/identifies-user", Severity.HIGH, line=4)]
    root = parse(report_factory(findings, fail_on=Severity.CRITICAL))
    below = case(root, "census/identifies-user")
    assert below.find("failure") is None
    assert "1 active finding (high), below --fail-on critical" in below.find("system-out").text
    assert root.get("failures") == "0"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["census/unhashed-user-id", "census/identifies-user",
                                           "usage/undeclared-field", "input/malformed-record"]),
                          st.booleans()), max_size=12),
       st.sampled_from(list(Severity)))
def test_failures_are_the_rules_with_active_findings_at_or_above_fail_on(findings, fail_on):
    """The JUnit failure count agrees with the exit code's rule, for any --fail-on."""
    from report_factory import build_report, default_outcomes

    severity = {"census/unhashed-user-id": Severity.CRITICAL,
                "census/identifies-user": Severity.HIGH,
                "usage/undeclared-field": Severity.LOW,
                "input/malformed-record": Severity.MEDIUM}
    made = [make_finding(rule, severity[rule], line=i + 1,
                         baseline=BaselineStatus.SUPPRESSED if accepted else
                         BaselineStatus.ACTIVE)
            for i, (rule, accepted) in enumerate(findings)]
    outcomes = [o for o in default_outcomes(made) if o.status is not Status.ERROR]
    report = build_report(made, outcomes=outcomes, fail_on=fail_on)
    root = parse(report)
    expected = {o.rule for o in report.outcomes
                if o.findings and o.severity.rank >= fail_on.rank}
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert failed == expected
    assert int(root.get("failures")) == len(expected)
    assert (int(root.get("failures")) > 0) == report.failed


def test_failure_lists_first_ten_locations_and_exact_count(report_factory):
    findings = [make_finding("census/identifies-user", Severity.HIGH, line=i + 1)
                for i in range(25)]
    root = parse(report_factory(findings))
    failure = case(root, "census/identifies-user").find("failure")
    assert failure.get("message") == "25 findings (high)"
    lines = failure.text.splitlines()
    assert lines[:10] == [f"dumps/sample.jsonl:{i} UserID: user-identifying value "
                          f"[{MASKED_VALUE}]" for i in range(1, 11)]
    assert lines[10] == "... and 15 more"


def test_control_characters_do_not_break_xml(report_factory):
    weird = make_finding("census/identifies-user", Severity.HIGH, field="a\x00b\x1b<c>&")
    root = parse(report_factory([weird]))
    assert "<c>&" in case(root, "census/identifies-user").find("failure").text
