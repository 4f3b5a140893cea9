"""Baselines: accepted findings are suppressed until they expire; bad files are named."""

from __future__ import annotations

import json
from datetime import date

import pytest

from audit.baseline import (
    apply_baseline,
    create_baseline,
    dump_baseline,
    load_baseline,
    parse_baseline,
)
from audit.errors import BaselineError
from audit.model import BaselineStatus, Finding, Severity

FP_A = "a" * 32
FP_B = "b" * 32


def finding(rule: str = "census/unhashed-user-id", fingerprint: str = FP_A,
            line: int = 3) -> Finding:
    return Finding(rule=rule, category=rule.split("/")[0], severity=Severity.CRITICAL,
                   source="dump.jsonl", line=line, field="UserID", message="m",
                   evidence="am•••om#1a2b3c", fingerprint=fingerprint)


def entry(**over: object) -> dict:
    base = {"fingerprint": FP_A, "rule": "census/unhashed-user-id", "reason": "test account",
            "owner": "privacy-team", "expires": "2024-06-30", "created": "2024-05-01"}
    return {**base, **over}


def write(tmp_path, doc, name="baseline.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2) if not isinstance(doc, str) else doc)
    return path


def test_accepted_finding_is_suppressed(tmp_path):
    baseline = load_baseline(write(tmp_path, {"version": 1, "entries": [entry()]}))
    (out,) = apply_baseline([finding()], baseline, date(2024, 6, 1))
    assert out.baseline is BaselineStatus.SUPPRESSED
    assert not out.active


def test_expiry_day_is_still_accepted_and_the_day_after_is_expired(tmp_path):
    baseline = load_baseline(write(tmp_path, {"version": 1, "entries": [entry()]}))
    (on_day,) = apply_baseline([finding()], baseline, date(2024, 6, 30))
    (after,) = apply_baseline([finding()], baseline, date(2024, 7, 1))
    assert on_day.baseline is BaselineStatus.SUPPRESSED
    assert after.baseline is BaselineStatus.EXPIRED
    assert after.active


def test_new_finding_not_in_baseline_stays_active(tmp_path):
    baseline = load_baseline(write(tmp_path, {"version": 1, "entries": [entry()]}))
    other_fp, other_rule = apply_baseline(
        [finding(fingerprint=FP_B), finding(rule="census/identifies-user")],
        baseline, date(2024, 6, 1))
    assert other_fp.baseline is BaselineStatus.ACTIVE
    assert other_rule.baseline is BaselineStatus.ACTIVE  # fingerprint alone is not enough


def test_findings_are_new_frozen_values(tmp_path):
    original = finding()
    baseline = load_baseline(write(tmp_path, {"version": 1, "entries": [entry()]}))
    (out,) = apply_baseline([original], baseline, date(2024, 6, 1))
    assert original.baseline is BaselineStatus.ACTIVE
    assert out is not original and out.line == original.line


def test_line_moves_do_not_matter(tmp_path):
    baseline = load_baseline(write(tmp_path, {"version": 1, "entries": [entry()]}))
    (out,) = apply_baseline([finding(line=999)], baseline, date(2024, 6, 1))
    assert out.baseline is BaselineStatus.SUPPRESSED


def test_bad_json_names_file_and_line(tmp_path):
    path = write(tmp_path, '{\n  "version": 1,\n  "entries": [\n    {,]\n}')
    with pytest.raises(BaselineError) as err:
        load_baseline(path)
    assert err.value.path == str(path)
    assert err.value.line == 4
    assert str(path) in str(err.value)


@pytest.mark.parametrize(("doc", "pointer"), [
    ({"version": 2, "entries": []}, "/version"),
    ({"version": 1}, "/"),
    ({"version": 1, "entries": [entry(), entry(expires="30/06/2024")]}, "/entries/1/expires"),
    ({"version": 1, "entries": [entry(expires="2024-02-30")]}, "/entries/0/expires"),
    ({"version": 1, "entries": [entry(reason="")]}, "/entries/0/reason"),
    ({"version": 1, "entries": [{k: v for k, v in entry().items() if k != "owner"}]},
     "/entries/0"),
])
def test_schema_errors_name_file_and_pointer(tmp_path, doc, pointer):
    path = write(tmp_path, doc)
    with pytest.raises(BaselineError) as err:
        load_baseline(path)
    assert err.value.pointer == pointer
    assert str(path) in str(err.value) and pointer in str(err.value)


def test_missing_file_is_a_baseline_error(tmp_path):
    with pytest.raises(BaselineError, match="cannot read baseline"):
        load_baseline(tmp_path / "nope.json")


def test_create_baseline_round_trips(tmp_path):
    report_json = {"findings": [finding().to_dict(), finding().to_dict(),
                                finding(fingerprint=FP_B, line=5).to_dict()]}
    doc = create_baseline(report_json, reason="known test data", owner="alice",
                          expires="2030-01-01", created=date(2024, 5, 1))
    assert [e["fingerprint"] for e in doc["entries"]] == [FP_A, FP_B]  # deduplicated
    assert doc["entries"][0]["created"] == "2024-05-01"
    baseline = load_baseline(write(tmp_path, dump_baseline(doc)))
    outs = apply_baseline([finding(), finding(fingerprint=FP_B)], baseline, date(2025, 1, 1))
    assert {o.baseline for o in outs} == {BaselineStatus.SUPPRESSED}
    assert "known test data" in baseline.reasons()[FP_A]


def test_create_baseline_requires_reason_owner_and_date():
    with pytest.raises(BaselineError):
        create_baseline({"findings": []}, reason=" ", owner="a", expires="2030-01-01")
    with pytest.raises(BaselineError):
        create_baseline({"findings": []}, reason="r", owner="a", expires="soon")


def test_empty_baseline_changes_nothing():
    baseline = parse_baseline({"version": 1, "entries": []})
    (marked,) = apply_baseline([finding()], baseline, date(2024, 1, 1))
    assert marked.baseline is BaselineStatus.ACTIVE


@pytest.mark.parametrize(("text", "problem"), [
    ('{"version": 1, "entries": [{"reason": "x\\ud800"}]}', "lone surrogate"),
    ('{"version": 1, "version": 2, "entries": []}', "duplicate key 'version'"),
    ("[" * 100_000, "nested too deeply"),
])
def test_text_no_report_could_hold_is_a_baseline_error(tmp_path, text, problem):
    """A reason that is not Unicode text once crashed the report writers half-way."""
    path = tmp_path / "baseline.json"
    path.write_text(text, "utf-8")
    with pytest.raises(BaselineError, match=problem) as err:
        load_baseline(path)
    assert "baseline.json" in str(err.value)


def test_a_scan_report_given_as_baseline_says_how_to_make_one(tmp_path):
    report = write(tmp_path, {"findings": [finding().to_dict()], "summary": {"verdict": "fail"}},
                   name="report.json")
    with pytest.raises(BaselineError) as err:
        load_baseline(report)
    assert str(err.value) == (
        f"{report}: this is a scan report, not a baseline; make one with: telemetry-audit "
        f"baseline create {report} --reason ... --owner ... --expires YYYY-MM-DD")


def test_a_document_with_entries_is_no_scan_report(tmp_path):
    doc = {"version": 1, "entries": [entry()], "findings": [], "summary": {}}
    with pytest.raises(BaselineError, match="Additional properties") as err:
        load_baseline(write(tmp_path, doc))
    assert "scan report" not in str(err.value)


@pytest.mark.parametrize("expires", ["2024-04-30", "2000-01-01"])
def test_create_baseline_refuses_an_expiry_in_the_past(expires):
    with pytest.raises(BaselineError, match=f"expiry {expires} is in the past"):
        create_baseline({"findings": [finding().to_dict()]}, reason="r", owner="o",
                        expires=expires, created=date(2024, 5, 1))


def test_create_baseline_accepts_today_and_defaults_to_today_utc():
    from datetime import datetime, timedelta, timezone

    doc = create_baseline({"findings": [finding().to_dict()]}, reason="r", owner="o",
                          expires="2024-05-01", created=date(2024, 5, 1))
    assert doc["entries"][0]["expires"] == "2024-05-01"
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    with pytest.raises(BaselineError, match="in the past"):
        create_baseline({"findings": []}, reason="r", owner="o", expires=yesterday.isoformat())


@pytest.mark.parametrize("expires", ["20300101", "2030-W01-1", "2030-02-30", "2030-1-1"])
def test_create_baseline_wants_yyyy_mm_dd(expires):
    with pytest.raises(BaselineError, match=r"is not a date \(YYYY-MM-DD\)"):
        create_baseline({"findings": []}, reason="r", owner="o", expires=expires)


def mixed_report() -> dict:
    def one(rule: str, severity: Severity, fp: str) -> dict:
        return {**finding(rule=rule, fingerprint=fp).to_dict(), "severity": severity.value}

    return {"findings": [one("census/unhashed-user-id", Severity.CRITICAL, "1" * 32),
                         one("census/schema-violation", Severity.MEDIUM, "2" * 32),
                         one("census/schema-violation", Severity.MEDIUM, "2" * 32),
                         one("usage/schema-violation", Severity.LOW, "3" * 32),
                         one("error/no-opt-in", Severity.INFO, "4" * 32)]}


@pytest.mark.parametrize(("rules", "severities", "accepted"), [
    ((), (), {"1", "2", "3", "4"}),
    (("census/*",), (), {"1", "2"}),
    (("census/unhashed-user-id", "error/*"), (), {"1", "4"}),
    (("*/schema-violation",), (), {"2", "3"}),
    ((), (Severity.LOW, Severity.INFO), {"3", "4"}),
    ((), ("medium",), {"2"}),
    (("census/*",), (Severity.MEDIUM, Severity.LOW), {"2"}),  # both must match
])
def test_create_baseline_selects_by_rule_and_severity(rules, severities, accepted):
    doc = create_baseline(mixed_report(), reason="r", owner="o", expires="2030-01-01",
                          created=date(2024, 5, 1), rules=rules, severities=severities)
    assert {e["fingerprint"][0] for e in doc["entries"]} == accepted


@pytest.mark.parametrize(("rules", "severities", "selection"), [
    (("census/nope",), (), "(rule census/nope)"),
    ((), (Severity.HIGH,), "(severity high)"),
    (("usage/*",), (Severity.INFO, Severity.CRITICAL), "(rule usage/*, severity critical or info)"),
])
def test_a_selection_matching_nothing_is_an_error(rules, severities, selection):
    with pytest.raises(BaselineError) as err:
        create_baseline(mixed_report(), reason="r", owner="o", expires="2030-01-01",
                        created=date(2024, 5, 1), rules=rules, severities=severities)
    message = str(err.value)
    assert message.startswith(f"no finding matches the selection {selection}; "), message
    assert ("the report's findings are critical: census/unhashed-user-id; medium: "
            "census/schema-violation; low: usage/schema-violation; info: error/no-opt-in"
            ) in message


def test_a_baseline_with_nan_says_so_once(run_cli, tmp_path) -> None:
    from support import CLEAN

    bad = tmp_path / "b.json"
    bad.write_text('{"version": 1, "entries": [], "x": NaN}', "utf-8")
    result = run_cli("scan", str(CLEAN), "--baseline", str(bad))
    assert result.code == 2
    assert result.err.strip().endswith(": not valid JSON: NaN is not a JSON value")
