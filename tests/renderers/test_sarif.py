"""report.sarif: valid against the official SARIF 2.1.0 schema, one located result per finding."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from report_factory import make_finding

from audit.model import BaselineStatus, Severity
from audit.renderers import sarif

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def validate(log: dict) -> None:
    validator = jsonschema.Draft4Validator(
        SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def load(report) -> dict:
    return json.loads(sarif.render(report))


def test_validates_against_official_schema(report):
    validate(load(report))


def test_schema_is_the_real_one():
    assert SCHEMA["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    assert "result" in SCHEMA["definitions"] and "physicalLocation" in SCHEMA["definitions"]


def test_schema_rejects_a_broken_log(report):
    log = load(report)
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError):
        validate(log)


def test_one_result_per_finding_each_with_a_physical_location(report):
    log = load(report)
    results = log["runs"][0]["results"]
    assert len(results) == len(report.findings)
    for result, finding in zip(results, report.findings, strict=True):
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"]
        assert loc["region"]["startLine"] >= 1
        assert result["ruleId"] == finding.rule
        assert result["level"] == finding.severity.sarif_level
        assert result["partialFingerprints"] == {"telemetryAudit/v1": finding.fingerprint}


def test_line_zero_becomes_line_one(report):
    results = load(report)["runs"][0]["results"]
    malformed = next(r for r in results if r["ruleId"] == "input/malformed-record")
    assert malformed["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_rules_carry_descriptions_help_and_level(report):
    driver = load(report)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "telemetry-audit" and driver["version"] == "0.1.0"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == [o.rule for o in report.outcomes]
    rule = driver["rules"][0]
    assert rule["shortDescription"]["text"]
    assert "hashing ensures" in rule["fullDescription"]["text"]
    assert rule["help"]["text"]
    assert rule["defaultConfiguration"]["level"] == "error"
    for result in load(report)["runs"][0]["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_suppressed_findings_carry_a_suppression(report):
    results = load(report)["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert len(suppressed) == sum(f.baseline is BaselineStatus.SUPPRESSED
                                  for f in report.findings) == 2
    assert suppressed[0]["suppressions"][0]["status"] == "accepted"


def test_invocation_has_no_exit_code(report):
    invocation = load(report)["runs"][0]["invocations"][0]
    assert "exitCode" not in invocation
    assert invocation["executionSuccessful"] is False  # one rule errored
    assert invocation["startTimeUtc"] == "2024-05-01T10:00:00.000000Z"


def test_odd_paths_and_unknown_rules_still_validate(report_factory):
    findings = [
        make_finding("census/identifies-user", Severity.HIGH, source="dir with space/a#b?.jsonl"),
        make_finding("custom/rule-without-outcome", Severity.INFO, source="/abs/path/x.jsonl"),
        make_finding("census/identifies-user", Severity.HIGH, source="C:\\dumps\\x.jsonl"),
    ]
    log = load(report_factory(findings))
    validate(log)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]]
    assert uris == ["dir%20with%20space/a%23b%3F.jsonl", "file:///abs/path/x.jsonl",
                    "file:///C:/dumps/x.jsonl"]


def test_a_store_of_findings_gives_the_same_log_as_a_tuple(report_factory):
    """Reports of a scan hold a FindingStore read in Arrow; the log is the same."""
    import dataclasses

    from audit.finding_store import FindingStore, RunWriter, to_batch

    findings = [
        make_finding("custom/rule-without-outcome", Severity.INFO, source="/abs/path/x.jsonl"),
        make_finding("census/identifies-user", Severity.HIGH, source="a.jsonl"),
        make_finding("other/no-outcome-either", Severity.LOW, source="a.jsonl"),
    ]
    plain = report_factory(findings)
    writer = RunWriter(None)
    writer.add_batch(to_batch(findings))
    stored = dataclasses.replace(plain, findings=FindingStore(writer.close()))
    assert load(stored) == load(plain)
    ids = [r["id"] for r in load(stored)["runs"][0]["tool"]["driver"]["rules"]]
    assert ids[-2:] == ["custom/rule-without-outcome", "other/no-outcome-either"]


def test_incomplete_reasons_are_tool_execution_notifications(report):
    log = load(report)
    run = log["runs"][0]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    warnings = [n for n in notes if n["level"] == "warning"]
    assert [n["message"]["text"] for n in warnings] == [
        f"audit incomplete: {gap.message}" for gap in report.summary.gaps]
    declared = {d["id"] for d in run["tool"]["driver"]["notifications"]}
    assert {n["descriptor"]["id"] for n in warnings} <= declared
    assert warnings[1]["properties"] == {"code": "not-tested", "rules": ["error/no-opt-in"]}
    assert run["properties"]["incomplete"] == [gap.message for gap in report.summary.gaps]
    assert run["invocations"][0]["executionSuccessful"] is False  # one rule errored
    validate(log)


def test_a_complete_audit_has_no_incomplete_notifications(report_factory):
    run = load(report_factory(gaps=()))["runs"][0]
    notes = run["invocations"][0].get("toolExecutionNotifications", [])
    assert all(n["level"] == "error" for n in notes)
    assert "notifications" not in run["tool"]["driver"]


def test_accepted_rule_descriptor_carries_its_acceptances(report):
    rules = {r["id"]: r for r in load(report)["runs"][0]["tool"]["driver"]["rules"]}
    accepted = rules["census/device-id-not-random"]["properties"]
    assert accepted["status"] == "accepted"
    assert accepted["acceptances"][0]["owner"] == "release-eng"
