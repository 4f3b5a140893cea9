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


# -- many rejected records: counted by file and reason, the first of each listed ------------


def _rejected(n: int, source: str, reason: str, start: int = 1) -> list:
    return [make_finding("input/malformed-record", Severity.MEDIUM, line=start + i,
                         field=None, evidence=None, source=source,
                         message=f"record could not be audited: {reason}",
                         fingerprint=f"{source}:{reason}:{i}") for i in range(n)]


def _with_explanations(findings: list) -> list:
    import dataclasses

    return [dataclasses.replace(f, explanation=f.message.split(": ", 1)[1])
            if f.rule == "input/malformed-record" else f for f in findings]


def _many(report_factory, *, nulls: int = 250):
    """Rejected records of two files and three reasons, among findings of other rules."""
    findings = _with_explanations(
        _rejected(nulls, "a.json", "not a JSON object (found NoneType)")
        + _rejected(7, "a.json", "invalid JSON: nested too deeply", start=nulls + 1)
        + [make_finding("census/identifies-user", Severity.HIGH, line=nulls + 10,
                        source="a.json")]
        + _rejected(130, "b.json", "not a JSON object (found NoneType)"))
    return findings, report_factory(findings)


def test_rejected_records_are_listed_by_file_and_reason(report_factory):
    findings, report = _many(report_factory)
    log = load(report)
    validate(log)
    run = log["runs"][0]
    results = run["results"]
    listed = [r for r in results if r["ruleId"] == "input/malformed-record"]
    # the first 100 of each file and reason, in report order; every other finding
    assert len(listed) == 100 + 7 + 100
    assert [r for r in results if r["ruleId"] != "input/malformed-record"] == [
        r for r in sarif.build_log(report_factory(findings[250:258]))["runs"][0]["results"]
        if r["ruleId"] != "input/malformed-record"]
    lines = [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
              r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in listed]
    assert lines == ([("a.json", i) for i in range(1, 101)]
                     + [("a.json", i) for i in range(251, 258)]
                     + [("b.json", i) for i in range(1, 101)])
    (note,) = [n for n in run["invocations"][0]["toolExecutionNotifications"]
               if n["descriptor"]["id"] == sarif.NOT_LISTED_ID]
    assert note["level"] == "note"
    assert note["message"]["text"].startswith(
        "180 of 387 rejected records (input/malformed-record) are not listed as results")
    assert note["properties"]["byFileAndReason"] == [
        {"uri": "a.json", "reason": "not a JSON object (found NoneType)", "count": 250,
         "listed": 100},
        {"uri": "b.json", "reason": "not a JSON object (found NoneType)", "count": 130,
         "listed": 100},
        {"uri": "a.json", "reason": "invalid JSON: nested too deeply", "count": 7,
         "listed": 7},
    ]
    assert run["properties"]["rejectedRecords"] == {
        "total": 387, "listed": 207, "notListed": 180, "perFileAndReason": 100,
        "mostListed": 1000}
    assert sarif.NOT_LISTED_ID in {d["id"] for d in run["tool"]["driver"]["notifications"]}


def test_few_rejected_records_are_all_listed(report_factory):
    findings, report = _many(report_factory, nulls=40)
    run = load(report)["runs"][0]
    assert len(run["results"]) == len(findings) - 30  # b.json's 130: 30 over
    _, small = _many(report_factory, nulls=3)
    findings = [f for f in small.findings if f.source == "a.json"]
    run = load(report_factory(findings))["runs"][0]
    assert len(run["results"]) == len(findings)
    assert all(n["descriptor"]["id"] != sarif.NOT_LISTED_ID
               for n in run["invocations"][0].get("toolExecutionNotifications", []))


def test_at_most_so_many_rejected_records_are_listed_in_all(report_factory):
    from audit.renderers.rejected import summarize_rejected

    findings = _with_explanations([f for reason in range(40) for f in _rejected(
        30, f"f{reason % 4}.json", f"invalid JSON: column {reason}", start=reason * 30 + 1)])
    summary = summarize_rejected(findings, per_reason=20, most=500, rows=True)
    assert summary.total == 1_200 and summary.listed == 500 and summary.not_listed == 700
    assert [g.listed for g in summary.groups] == [20] * 25 + [0] * 15
    assert [f.line for f in summary.rows] == [
        reason * 30 + 1 + i for reason in range(25) for i in range(20)]
    assert summary.positions.tolist() == [
        reason * 30 + i for reason in range(25) for i in range(20)]


def _stored(findings: list, folder: str):
    from audit.finding_store import FindingStore, RunWriter, to_batch

    writer = RunWriter(folder)
    for start in range(0, len(findings), 5_000):
        writer.add_batch(to_batch(findings[start:start + 5_000]))
    return FindingStore(writer.close())


def test_the_log_stays_small_however_many_records_are_rejected(report_factory, tmp_path):
    """Past 50,000 findings the store is on disk: the log is still read from it, the same
    as from a tuple, and ten times the rejected records make no larger a log."""
    import dataclasses

    sizes = []
    for n in (6_000, 60_000):
        findings = _with_explanations(_rejected(n, "nulls.json",
                                                "not a JSON object (found NoneType)"))
        report = report_factory(findings[:10])
        store = _stored(findings, str(tmp_path))
        assert n < 50_000 or store.spilled
        stored = dataclasses.replace(report, findings=store)
        data = sarif.render(stored)
        sizes.append(len(data))
        log = json.loads(data)
        assert len(log["runs"][0]["results"]) == 100
        assert log["runs"][0]["properties"]["rejectedRecords"]["total"] == n
        if n < 50_000:
            assert log == load(dataclasses.replace(report, findings=tuple(findings)))
    assert sizes[1] < sizes[0] * 1.01


def test_a_json_array_of_nulls_from_scan_to_reports(tmp_path):
    """60,000 nulls: report.json lists each rejected record, SARIF and the page the first
    hundred with the count of the rest."""
    import audit
    from audit.renderers import RENDERERS, write_reports

    dump = tmp_path / "nulls.json"
    dump.write_text("[" + ",".join(["null"] * 60_000) + "]", "utf-8")
    report = audit.scan(inputs=str(dump))
    write_reports(report, tmp_path / "out", list(RENDERERS))
    full = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert sum(f["rule"] == "input/malformed-record" for f in full["findings"]) == 60_000
    log = json.loads((tmp_path / "out" / "report.sarif").read_text("utf-8"))
    validate(log)
    assert len(log["runs"][0]["results"]) == 100
    assert log["runs"][0]["properties"]["rejectedRecords"]["notListed"] == 59_900
    page = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert page.count('<tr class="finding ') == 100
    assert "not a JSON object (found NoneType)</td><td class=\"n\">60,000</td>" in page
