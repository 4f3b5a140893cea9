"""report.junit.xml: parses, one testcase per rule, the right verdict per case."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from report_factory import make_finding

from audit.model import Severity
from audit.renderers import junit


def parse(report) -> ET.Element:
    return ET.fromstring(junit.render(report))


def test_one_testcase_per_rule_grouped_by_category(report):
    root = parse(report)
    cases = root.findall("./testsuite/testcase")
    assert sorted(c.get("name") for c in cases) == sorted(o.rule for o in report.outcomes)
    for suite in root.findall("testsuite"):
        for case in suite.findall("testcase"):
            assert case.get("classname") == suite.get("name")
            assert case.get("name").startswith(suite.get("name") + "/")
    assert root.get("tests") == str(len(report.outcomes))


def case(root: ET.Element, rule: str) -> ET.Element:
    found = [c for c in root.iter("testcase") if c.get("name") == rule]
    assert len(found) == 1
    return found[0]


def test_statuses_map_to_failure_skipped_error_pass(report):
    root = parse(report)
    failure = case(root, "census/identifies-user").find("failure")
    assert failure is not None and failure.get("message") == "1 finding (high)"
    assert "dumps/sample.jsonl:4 DeviceModel" in failure.text
    skipped = case(root, "error/no-opt-in").find("skipped")
    assert skipped is not None and skipped.get("message") == "no --ledger given"
    assert case(root, "error/watson-disabled").find("error") is not None
    assert list(case(root, "census/identifies-organization")) == []


def test_failure_lists_first_ten_locations_and_exact_count(report_factory):
    findings = [make_finding("census/identifies-user", Severity.HIGH, line=i + 1)
                for i in range(25)]
    root = parse(report_factory(findings))
    failure = case(root, "census/identifies-user").find("failure")
    assert failure.get("message") == "25 findings (high)"
    lines = failure.text.splitlines()
    assert lines[:10] == [f"dumps/sample.jsonl:{i} UserID" for i in range(1, 11)]
    assert lines[10] == "... and 15 more"


def test_control_characters_do_not_break_xml(report_factory):
    weird = make_finding("census/identifies-user", Severity.HIGH, field="a\x00b\x1b<c>&")
    root = parse(report_factory([weird]))
    assert "<c>&" in case(root, "census/identifies-user").find("failure").text
