"""The command line contract: exit codes 0/1/2, one-line errors, report.json valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from support import CLEAN, LEDGER, SAMPLE, make_event, write_jsonl

from audit.renderers.json import report_schema


def test_sample_dump_fails_and_report_validates(run_cli) -> None:
    result = run_cli("scan", str(SAMPLE), "--format", "json")
    assert result.code == 1
    report = result.report
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    summary = report["summary"]
    assert summary["verdict"] == "fail"
    assert summary["records_read"] == summary["records_audited"] + summary["records_rejected"]
    assert summary["records_rejected"] == 1
    assert "verdict: FAIL" in result.out


def test_clean_dump_passes(run_cli) -> None:
    result = run_cli("scan", str(CLEAN), "--ledger", str(LEDGER), "--format", "json")
    assert result.code == 0, result.out + result.err
    assert result.report["findings"] == []
    assert result.report["summary"]["verdict"] == "pass"
    auto = run_cli("scan", str(CLEAN), "--ledger", str(LEDGER), "--format", "json",
                   "--jobs", "auto")
    assert auto.code == 0 and auto.report["run"]["parameters"]["jobs"] == 1  # small input


def test_missing_input_is_exit_2_with_one_line(run_cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = run_cli("scan", str(missing))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert str(missing) in lines[0] and "no such file" in lines[0]
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["scan", str(SAMPLE), "--fail-on", "urgent"], "unknown severity"),
        (["scan", str(SAMPLE), "--format", "pdf"], "unknown format"),
        (["scan", str(SAMPLE), "--stage", "archived"], "invalid choice"),
        (["scan", str(SAMPLE), "--chunk-rows", "0"], "at least 1"),
        (["scan", str(SAMPLE), "--jobs", "0"], "at least 1"),
        (["scan", str(SAMPLE), "--jobs", "many"], "not a whole number"),
    ],
)
def test_bad_arguments_exit_2(run_cli, capsys, args: list[str], needle: str) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(*args)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_unknown_format_file_is_exit_2(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "dump.xml"
    path.write_text("<events/>")
    result = run_cli("scan", str(path))
    assert result.code == 2
    assert "unknown input format" in result.err and str(path) in result.err


def test_fail_on_threshold(run_cli, tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "d.jsonl", [make_event("census", SignInAttempts="three")])
    medium = run_cli("scan", str(dump), "--format", "json")
    assert medium.code == 0  # schema-violation is medium; default fail-on is high
    assert medium.report["summary"]["findings_by_severity"]["medium"] == 1
    strict = run_cli("scan", str(dump), "--format", "json", "--fail-on", "medium")
    assert strict.code == 1


def test_no_ledger_marks_consent_rules_not_tested(run_cli) -> None:
    report = run_cli("scan", str(SAMPLE), "--format", "json").report
    consent = [o for o in report["outcomes"] if "ledger" in (o["reason"] or "")]
    assert consent, "consent rules must say they need a ledger"
    assert all(o["status"] == "not_tested" and o["findings"] == 0 for o in consent)


def test_python_dash_m_and_help_work() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "audit", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "scan" in done.stdout and "rules" in done.stdout


def test_api_gives_the_same_result_as_the_cli(run_cli) -> None:
    import audit

    cli = run_cli("scan", str(SAMPLE), "--format", "json").report
    api = audit.scan(inputs=str(SAMPLE)).to_dict()
    for doc in (cli, api):
        del doc["run"]
    assert api == cli


def test_baseline_gates_new_and_expired_findings(run_cli, tmp_path: Path) -> None:
    import json

    first = run_cli(
        "scan", str(SAMPLE), "--ledger", str(LEDGER), "--format", "json", out=tmp_path / "first"
    )
    assert first.code == 1
    baseline = tmp_path / "baseline.json"
    made = run_cli(
        "baseline",
        "create",
        str(first.out_dir / "report.json"),
        "--reason",
        "accepted for release 2.0",
        "--owner",
        "release-eng",
        "--expires",
        "2999-12-31",
        "--out",
        str(baseline),
    )
    assert made.code == 0
    accepted = run_cli(
        "scan",
        str(SAMPLE),
        "--ledger",
        str(LEDGER),
        "--format",
        "json",
        "--baseline",
        str(baseline),
        out=tmp_path / "accepted",
    )
    assert accepted.code == 0, accepted.out
    assert {f["baseline"] for f in accepted.report["findings"]} == {"suppressed"}
    reasons = accepted.report["baseline_reasons"]
    assert set(reasons) == {f["fingerprint"] for f in accepted.report["findings"]}
    assert all("accepted for release 2.0 (owner release-eng" in r for r in reasons.values())

    doc = json.loads(baseline.read_text("utf-8"))
    for entry in doc["entries"]:
        entry["expires"] = "2020-01-01"
    expired_file = tmp_path / "expired.json"
    expired_file.write_text(json.dumps(doc), "utf-8")
    expired = run_cli(
        "scan",
        str(SAMPLE),
        "--ledger",
        str(LEDGER),
        "--format",
        "json",
        "--baseline",
        str(expired_file),
        out=tmp_path / "expired",
    )
    assert expired.code == 1
    assert expired.report["summary"]["expired"] == len(expired.report["findings"]) > 0

    dump = write_jsonl(
        tmp_path / "more.jsonl",
        [
            *(line for line in SAMPLE.read_text("utf-8").splitlines()),
            make_event("census", Email="someone@contoso.com"),
        ],
    )
    new = run_cli(
        "scan",
        str(dump),
        "--ledger",
        str(LEDGER),
        "--format",
        "json",
        "--baseline",
        str(baseline),
        out=tmp_path / "new",
    )
    assert new.code == 1
    active = [f for f in new.report["findings"] if f["baseline"] == "active"]
    assert any(f["field"] == "Email" for f in active)

    diff = run_cli("diff", str(first.out_dir / "report.json"), str(new.out_dir / "report.json"))
    assert diff.code == 1 and "new" in diff.out


def test_bad_baseline_is_exit_2(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text('{"version": 1, "entries": [{"rule": "x"}]}', "utf-8")
    result = run_cli("scan", str(CLEAN), "--baseline", str(bad), "--format", "json")
    assert result.code == 2 and str(bad) in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("args", [["--help"], ["rules", "list"], ["rules", "validate"]])
def test_quick_commands_do_not_import_pandas_or_dask(args: list[str]) -> None:
    code = (
        "import sys\nfrom audit.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'dask', 'pyarrow') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_events_and_findings_over_time(run_cli) -> None:
    result = run_cli("scan", str(SAMPLE), "--ledger", str(LEDGER), "--format", "json,html")
    series = result.report["events_over_time"]
    assert [p["time"] for p in series] == sorted(p["time"] for p in series)
    assert sum(p["events"] for p in series) == result.report["summary"]["records_audited"]
    assert 0 < sum(p["findings"] for p in series) <= len(result.report["findings"])
    assert "Events and findings over time" in (result.out_dir / "report.html").read_text()


@pytest.mark.parametrize("under", ["", "sub/dir"], ids=["the-file", "under-the-file"])
def test_out_naming_a_file_is_a_usage_error_before_scanning(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, under: str
) -> None:
    import audit.engine

    def no_scan(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("scanned although --out is a file")

    monkeypatch.setattr(audit.engine, "scan", no_scan)
    html = tmp_path / "report.html"
    html.write_text("<html></html>", "utf-8")
    out = html / under if under else html
    result = run_cli("scan", str(SAMPLE), "--out", str(out))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    what = f"{html} is a file" if under else "this is a file"
    assert lines[0].endswith(f"{out}: --out takes a folder, and {what}"), lines[0]
    assert html.read_text("utf-8") == "<html></html>"


def test_out_folder_is_created_when_missing(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "new" / "reports"
    result = run_cli("scan", str(SAMPLE), "--format", "json", out=out)
    assert result.code == 1, result.err
    assert (out / "report.json").is_file()


@pytest.fixture
def sample_report(run_cli, tmp_path: Path) -> Path:
    """The report.json of the sample dump scanned with its ledger (it has findings)."""
    result = run_cli("scan", str(SAMPLE), "--ledger", str(LEDGER), "--format", "json",
                     out=tmp_path / "scanned")
    assert result.code == 1, result.err
    return result.out_dir / "report.json"


def test_a_scan_report_passed_as_baseline_says_how_to_make_one(run_cli, sample_report: Path
                                                               ) -> None:
    result = run_cli("scan", str(SAMPLE), "--baseline", str(sample_report), "--format", "json")
    assert result.code == 2
    assert result.err.strip() == (
        f"telemetry-audit: error: {sample_report}: this is a scan report, not a baseline; "
        f"make one with: telemetry-audit baseline create {sample_report} --reason ... "
        "--owner ... --expires YYYY-MM-DD"
    )


def test_a_baseline_passed_as_report_says_so(run_cli, tmp_path: Path) -> None:
    baseline = tmp_path / "accepted.json"
    baseline.write_text('{"version": 1, "entries": []}', "utf-8")
    for args in (["diff", str(baseline), str(baseline)],
                 ["baseline", "create", str(baseline), "--reason", "r", "--owner", "o",
                  "--expires", "2999-12-31"]):
        result = run_cli(*args)
        assert result.code == 2
        assert result.err.strip() == (f"telemetry-audit: error: {baseline}: this is a "
                                      "baseline, not a scan report: give the report.json a "
                                      "scan wrote")


def create(run_cli, report: Path, *extra: str, expires: str = "2999-12-31"):
    return run_cli("baseline", "create", str(report), "--reason", "known", "--owner",
                   "release-eng", "--expires", expires, *extra)


def test_baseline_create_selects_and_says_how_many_it_accepted(
    run_cli, sample_report: Path, tmp_path: Path
) -> None:
    import json

    findings = json.loads(sample_report.read_text("utf-8"))["findings"]
    wanted = [f for f in findings
              if f["rule"].startswith("census/") and f["severity"] in ("high", "medium")]
    assert wanted and len(wanted) < len(findings)
    out = tmp_path / "accepted.json"
    result = create(run_cli, sample_report, "--rule", "census/*", "--severity", "high,medium",
                    "--out", str(out))
    assert result.code == 0, result.err
    entries = json.loads(out.read_text("utf-8"))["entries"]
    assert {(e["rule"], e["fingerprint"]) for e in entries} == {
        (f["rule"], f["fingerprint"]) for f in wanted}
    assert result.out.strip() == (
        f"wrote {out}: accepted {len(wanted)} findings ({len(entries)} entries by rule and "
        "fingerprint) until 2999-12-31"
    )


@pytest.mark.parametrize(
    ("extra", "expires", "needle"),
    [
        ((), "2020-01-01", "expiry 2020-01-01 is in the past (today is "),
        ((), "31/12/2999", "expiry '31/12/2999' is not a date (YYYY-MM-DD)"),
        (("--rule", "census/no-such-rule"), "2999-12-31",
         "no finding matches the selection (rule census/no-such-rule)"),
        (("--severity", "low,info"), "2999-12-31",
         "no finding matches the selection (severity low or info)"),
    ],
    ids=["past", "not-a-date", "no-rule-matches", "no-severity-matches"],
)
def test_baseline_create_refuses_with_one_line(
    run_cli, sample_report: Path, tmp_path: Path, extra: tuple[str, ...], expires: str,
    needle: str
) -> None:
    out = tmp_path / "accepted.json"
    result = create(run_cli, sample_report, *extra, "--out", str(out), expires=expires)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.err
    assert not out.exists()


def test_baseline_create_rejects_an_unknown_severity(run_cli, sample_report: Path,
                                                     capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        create(run_cli, sample_report, "--severity", "low,urgent")
    assert exc.value.code == 2
    assert "unknown severity 'urgent'" in capsys.readouterr().err
