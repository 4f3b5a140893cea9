"""The command line contract: exit codes 0/1/2, one-line errors, report.json valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import CLEAN, LEDGER, SAMPLE, make_event, write_jsonl

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
    done = subprocess.run([sys.executable, "-m", "audit", "--help"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0
    assert "scan" in done.stdout and "rules" in done.stdout


def test_api_gives_the_same_result_as_the_cli(run_cli) -> None:
    import audit

    cli = run_cli("scan", str(SAMPLE), "--format", "json").report
    api = audit.scan(inputs=str(SAMPLE)).to_dict()
    for doc in (cli, api):
        del doc["run"]
    assert api == cli
