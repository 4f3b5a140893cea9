"""The verdict never vouches for what was not audited: PASS, FAIL or INCOMPLETE (exit 3),
with the reasons in every format, and 'not applicable' or 'excluded' kept apart from
'not tested'."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markupsafe import escape as html_escape
from support import CLEAN, DIRECTORY, FIXTURES, LEDGER, ROOT, SAMPLE, make_event, write_jsonl

from audit.cli import main
from audit.model import Gap, RuleOutcome, Severity, Status, Verdict
from audit.options import RejectLimit
from audit.renderers import markdown
from audit.verdict import gaps_of, verdict_of

CONSENT_RULES = ("usage/collected-while-disabled", "usage/meeting-telemetry-disabled",
                 "error/no-opt-in", "error/collected-while-disabled",
                 "error/meeting-telemetry-disabled", "error/watson-disabled")


def gap_messages(report: dict) -> list[str]:
    return [gap["message"] for gap in report["summary"]["incomplete"]]


def assert_reasons_everywhere(result) -> None:
    """Each reason the audit is incomplete is in the terminal and in all five reports."""
    messages = gap_messages(result.report)
    assert messages
    out = result.out_dir
    html = (out / "report.html").read_text("utf-8")
    md = (out / "report.md").read_text("utf-8")
    junit = ET.parse(out / "report.junit.xml").getroot()
    skipped = next(c for c in junit.iter("testcase")
                   if c.get("name") == "audit/complete").find("skipped")
    notes = json.loads((out / "report.sarif").read_text("utf-8"))["runs"][0]["invocations"][0]
    sarif = [n["message"]["text"] for n in notes["toolExecutionNotifications"]]
    for message in messages:
        assert message in result.out
        assert str(html_escape(message)) in html
        assert markdown.escape(message) in md
        assert message in skipped.get("message")
        assert f"audit incomplete: {message}" in sarif


def binary_har(path: Path) -> Path:
    blob = bytes(range(256)) * 3
    har = {"log": {"version": "1.2", "entries": [{
        "request": {"method": "POST", "url": "https://mobile.events.data.example.com/OneCollector/1.0",
                    "postData": {"mimeType": "application/bond-compact-binary",
                                 "encoding": "base64", "text": base64.b64encode(blob).decode()}},
        "response": {"status": 200}}]}}
    path.write_text(json.dumps(har), "utf-8")
    return path


@pytest.mark.parametrize("make", ["empty", "binary", "foreign", "har"])
def test_nothing_audited_is_incomplete_in_every_format(run_cli, tmp_path: Path, make: str
                                                       ) -> None:
    if make == "empty":
        dump = tmp_path / "empty.jsonl"
        dump.write_bytes(b"")
    elif make == "binary":
        dump = tmp_path / "blob.jsonl"
        dump.write_bytes(bytes(range(256)) * 8)
    elif make == "foreign":
        dump = FIXTURES / "dumps" / "common-schema.jsonl"  # needs --mapping
    else:
        dump = binary_har(tmp_path / "capture.har")
    result = run_cli("scan", str(dump), "--ledger", str(LEDGER), "--identities",
                     str(DIRECTORY))
    assert result.code == 3, result.out + result.err
    summary = result.report["summary"]
    assert summary["verdict"] == "incomplete"
    assert summary["records_audited"] == 0
    assert "no-records" in [gap["code"] for gap in summary["incomplete"]]
    assert "verdict: INCOMPLETE" in result.out
    assert_reasons_everywhere(result)


def test_sample_without_ledger_fails_and_says_what_was_not_tested(run_cli) -> None:
    result = run_cli("scan", str(SAMPLE), "--identities", str(DIRECTORY))
    assert result.code == 1
    report = result.report
    assert report["summary"]["verdict"] == "fail"
    not_tested = next(g for g in report["summary"]["incomplete"] if g["code"] == "not-tested")
    assert sorted(not_tested["rules"]) == sorted(CONSENT_RULES)
    assert "no --ledger given" in not_tested["message"]
    assert_reasons_everywhere(result)


def test_clean_sample_without_ledger_is_incomplete_until_consent_rules_are_excluded(
        run_cli, tmp_path: Path) -> None:
    incomplete = run_cli("scan", str(CLEAN), "--identities", str(DIRECTORY))
    assert incomplete.code == 3
    assert incomplete.report["summary"]["verdict"] == "incomplete"
    assert_reasons_everywhere(incomplete)

    skips = [arg for rule in CONSENT_RULES for arg in ("--skip-rule", rule)]
    excluded = run_cli("scan", str(CLEAN), "--identities", str(DIRECTORY), *skips,
                       out=tmp_path / "excluded")
    assert excluded.code == 0, excluded.out
    report = excluded.report
    assert report["summary"]["verdict"] == "pass" and report["summary"]["incomplete"] == []
    status = {o["rule"]: o for o in report["outcomes"]}
    for rule in CONSENT_RULES:
        assert status[rule]["status"] == "excluded"
        assert status[rule]["reason"] == f"excluded by --skip-rule {rule}"

    globbed = run_cli("scan", str(CLEAN), "--identities", str(DIRECTORY), "--skip-rule",
                      "*/collected-while-disabled", "--skip-rule", "*/meeting-*",
                      "--skip-rule", "error/[nw]*", out=tmp_path / "globbed")
    assert globbed.code == 0, globbed.out


def test_allow_incomplete_exits_0_but_the_report_still_says_incomplete(run_cli) -> None:
    result = run_cli("scan", str(CLEAN), "--allow-incomplete")
    assert result.code == 0
    assert result.report["summary"]["verdict"] == "incomplete"
    assert result.report["run"]["parameters"]["allow_incomplete"] is True
    assert "verdict: INCOMPLETE" in result.out and "--allow-incomplete" in result.out


def test_clean_sample_with_ledger_passes(run_cli) -> None:
    result = run_cli("scan", str(CLEAN), "--ledger", str(LEDGER), "--identities",
                     str(DIRECTORY))
    assert result.code == 0, result.out
    outcomes = {o["rule"]: o["status"] for o in result.report["outcomes"]}
    # Nothing in a transit scan can be tested by a stored-only rule: not applicable.
    assert outcomes["error/cleartext-user-id-at-rest"] == "not_applicable"
    assert "not_tested" not in outcomes.values()


def test_a_skip_rule_that_matches_nothing_is_a_usage_error(run_cli) -> None:
    result = run_cli("scan", str(CLEAN), "--skip-rule", "census/unhashed-userid")
    assert result.code == 2
    assert "census/unhashed-userid" in result.err and "matches no rule" in result.err


def test_max_rejected_as_count_and_percentage(run_cli, tmp_path: Path) -> None:
    good = [make_event("census") for _ in range(9)]
    dump = write_jsonl(tmp_path / "d.jsonl", [*good, "{not json"])
    args = ("scan", str(dump), "--ledger", str(LEDGER))
    assert run_cli(*args).code == 3
    assert run_cli(*args, "--max-rejected", "1", out=tmp_path / "a").code == 0
    assert run_cli(*args, "--max-rejected", "10%", out=tmp_path / "b").code == 0
    assert run_cli(*args, "--max-rejected", "9.9%", out=tmp_path / "c").code == 3


@pytest.mark.parametrize("text", ["-1", "ten", "101%", "x%", "nan%"])
def test_max_rejected_rejects_nonsense(run_cli, capsys, text: str) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli("scan", str(CLEAN), "--max-rejected", text)
    assert exc.value.code == 2
    assert "--max-rejected" in capsys.readouterr().err


def test_a_mapped_field_that_is_never_present_leaves_its_rules_not_tested(
        run_cli, tmp_path: Path) -> None:
    """A mapping whose source paths match nothing must not make the id rules 'passed'."""
    envelope = {"name": "App.Census", "time": "2026-03-02T10:00:00Z",
                "ext": {"app": {"name": "iPhoneSkype"}, "device": {"model": "iPhone"},
                        "os": {"name": "iPhoneiOS", "ver": "17.4"},
                        "user": {"locale": "en-US"}},
                "data": {"category": "census"}}
    dump = write_jsonl(tmp_path / "cs.jsonl", [envelope] * 3)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("fields:\n  category: data.category\n  time: time\n"
                       "  AppName: ext.app.name\n  DeviceModel: ext.device.model\n"
                       "  OSName: ext.os.name\n  OSVersion: ext.os.ver\n"
                       "  UserLanguage: ext.user.locale\n  UserID: ext.user.id\n"
                       "  DeviceID: ext.device.id\nignore: [name]\n", "utf-8")
    result = run_cli("scan", str(dump), "--mapping", str(mapping), "--ledger", str(LEDGER),
                     "--fail-on", "critical")
    outcomes = {o["rule"]: o for o in result.report["outcomes"]}
    for rule, field in (("census/unhashed-user-id", "UserID"),
                        ("census/device-id-not-random", "DeviceID")):
        assert outcomes[rule]["status"] == "not_tested"
        assert outcomes[rule]["reason"] == \
            f"{field} never present in the 3 census events it applies to"
    assert result.code == 3  # the missing fields' schema violations are medium
    assert result.report["summary"]["verdict"] == "incomplete"


def test_consent_rules_with_nothing_in_scope_are_not_applicable_without_a_ledger(
        run_cli, tmp_path: Path) -> None:
    """Without Meetings App events, the pool and Watson rules have nothing to test: that
    is not applicable, and does not make the audit incomplete."""
    dump = write_jsonl(tmp_path / "d.jsonl", [make_event("census"), make_event("census")])
    result = run_cli("scan", str(dump))
    assert result.code == 0, result.out
    outcomes = {o["rule"]: o for o in result.report["outcomes"]}
    assert {outcomes[r]["status"] for r in CONSENT_RULES} == {"not_applicable"}
    assert outcomes["error/watson-disabled"]["reason"] == (
        "no error events it applies to (client meetings_app and platform windows and crash "
        "true)")


def test_a_baseline_accepting_every_finding_passes_with_accepted_rules(
        run_cli, tmp_path: Path) -> None:
    first = run_cli("scan", str(SAMPLE), "--ledger", str(LEDGER), "--identities",
                    str(DIRECTORY), out=tmp_path / "first")
    assert first.code == 1
    baseline = tmp_path / "accepted.json"
    made = run_cli("baseline", "create", str(first.out_dir / "report.json"), "--reason",
                   "known since 2.0, fix in 2.1", "--owner", "release-eng", "--expires",
                   "2999-12-31", "--out", str(baseline))
    assert made.code == 0, made.err
    accepted = run_cli("scan", str(SAMPLE), "--ledger", str(LEDGER), "--identities",
                       str(DIRECTORY), "--baseline", str(baseline), out=tmp_path / "second")
    assert accepted.code == 0, accepted.out
    report = accepted.report
    assert report["summary"]["verdict"] == "pass"
    failed_before = {o["rule"] for o in first.report["outcomes"] if o["status"] == "failed"}
    outcomes = {o["rule"]: o for o in report["outcomes"]}
    for rule in failed_before:
        assert outcomes[rule]["status"] == "accepted"
        [acceptance] = outcomes[rule]["acceptances"]
        assert acceptance == {"reason": "known since 2.0, fix in 2.1", "owner": "release-eng",
                              "expires": "2999-12-31", "expired": False,
                              "findings": outcomes[rule]["accepted"]}
    assert "passed" not in {outcomes[r]["status"] for r in failed_before}
    md = (accepted.out_dir / "report.md").read_text("utf-8")
    assert "known since 2.0, fix in 2.1 (owner release-eng, until 2999-12-31)" in md
    html = (accepted.out_dir / "report.html").read_text("utf-8")
    assert "known since 2.0, fix in 2.1" in html and "release-eng" in html
    assert "accepted" in accepted.out and "known since 2.0, fix in 2.1" in accepted.out


@pytest.mark.parametrize("fail_on", ["critical", "high", "medium", "low", "info"])
def test_junit_failures_are_the_rules_failing_the_exit_code(run_cli, tmp_path: Path,
                                                           fail_on: str) -> None:
    result = run_cli("scan", str(SAMPLE), "--ledger", str(LEDGER), "--identities",
                     str(DIRECTORY), "--fail-on", fail_on)
    root = ET.parse(result.out_dir / "report.junit.xml").getroot()
    rank = Severity(fail_on).rank
    failing = {o["rule"] for o in result.report["outcomes"]
               if o["findings"] and Severity(o["severity"]).rank >= rank}
    failures = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert failures == failing
    assert int(root.get("failures")) == len(failing)
    assert (result.code == 1) == bool(failing)


def outcome(rule: str, status: Status, reason: str | None = None) -> RuleOutcome:
    return RuleOutcome(rule=rule, category=rule.split("/")[0], severity=Severity.HIGH,
                       status=status, findings=0, reason=reason)


def test_gaps_and_verdict_rules() -> None:
    limit = RejectLimit()
    assert gaps_of([], read=5, rejected=0, skipped=[], limit=limit) == ()
    [nothing] = gaps_of([], read=0, rejected=0, skipped=[], limit=limit)
    assert nothing.code == "no-records" and "no records" in nothing.message
    codes = [g.code for g in gaps_of([], read=3, rejected=3, skipped=[], limit=limit)]
    assert codes == ["no-records", "rejected"]
    skipped = gaps_of([], read=3, rejected=0, skipped=["a/notes.txt"], limit=limit)
    assert skipped[0].code == "rejected" and "a/notes.txt" in skipped[0].message
    assert gaps_of([], read=3, rejected=1, skipped=[], limit=limit, accepted=1) == ()
    [some] = gaps_of([], read=9, rejected=3, skipped=[], limit=limit, accepted=1,
                     reasons=[("invalid UTF-8 at byte 0", 1)])
    assert some.message == ("2 of 9 records rejected (1 more accepted by the baseline), more "
                            "than --max-rejected 0 allows; 1 of them: invalid UTF-8 at byte 0")
    outcomes = [outcome("a/x", Status.NOT_TESTED, "no --ledger given"),
                outcome("a/y", Status.NOT_TESTED, "no --ledger given"),
                outcome("a/z", Status.NOT_APPLICABLE, "no a events it applies to"),
                outcome("a/w", Status.EXCLUDED, "excluded by --skip-rule a/w")]
    [gap] = gaps_of(outcomes, read=3, rejected=0, skipped=[], limit=limit)
    assert gap == Gap(code="not-tested", rules=("a/x", "a/y"),
                      message="2 applicable rules not tested (a/x, a/y): no --ledger given")
    assert verdict_of(True, [gap]) is Verdict.FAIL
    assert verdict_of(False, [gap]) is Verdict.INCOMPLETE
    assert verdict_of(False, []) is Verdict.PASS


@pytest.mark.parametrize(("text", "allowed", "refused"), [
    ("0", (0, 100), (1, 100)), ("3", (3, 4), (4, 100)), ("50%", (1, 2), (2, 3)),
    ("0%", (0, 0), (1, 1000)), ("100%", (7, 7), None)])
def test_reject_limit(text: str, allowed: tuple[int, int], refused: tuple[int, int] | None
                      ) -> None:
    limit = RejectLimit.parse(text)
    assert str(limit) == text
    assert limit.allows(*allowed)
    if refused is not None:
        assert not limit.allows(*refused)


def test_exit_codes_and_severities_are_in_help_and_readme(capsys) -> None:
    for argv in (["--help"], ["scan", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        for code, verdict in (("0", "PASS"), ("1", "FAIL"), ("2", "ERROR"), ("3", "INCOMPLETE")):
            assert f"  {code}  {verdict}" in text
        assert ", ".join(s.value for s in Severity) in text
    readme = (ROOT / "README.md").read_text("utf-8")
    for code, verdict in (("0", "PASS"), ("1", "FAIL"), ("3", "INCOMPLETE")):
        assert f"| `{code}` | {verdict} |" in readme
    assert "`critical`, `high`, `medium`, `low`, `info`" in readme
