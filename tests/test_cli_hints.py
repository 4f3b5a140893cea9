"""Newcomer typos on the command line: a mistyped option shows the usage of the
subcommand that was given and the closest option, a mistyped subcommand or choice the
closest one. All exit 2 without a traceback."""

from __future__ import annotations

import pytest
from support import SAMPLE

from audit.cli import build_parser


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    """Parse ``args``; return the usage line and the error line argparse printed."""
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(list(args))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    return lines[0], lines[-1]


@pytest.mark.parametrize(
    ("args", "usage", "hint"),
    [
        (["scan", "dump.jsonl", "--ledgr", "x"], "usage: telemetry-audit scan ",
         "unrecognized arguments: --ledgr x; did you mean --ledger?"),
        (["scan", "dump.jsonl", "--ledgr=policy.csv"], "usage: telemetry-audit scan ",
         "did you mean --ledger?"),
        (["rules", "validate", "rules", "--strikt"], "usage: telemetry-audit rules validate ",
         "unrecognized arguments: --strikt"),
        (["baseline", "create", "r.json", "--reason", "r", "--owner", "o", "--expires",
          "2999-01-01", "--ot", "b.json"],
         "usage: telemetry-audit baseline create ", "did you mean --out?"),
        (["diff", "old.json", "new.json", "--qiet"], "usage: telemetry-audit diff ",
         "unrecognized arguments: --qiet"),
        (["scan", "dump.jsonl", "--quite", "--ledgr", "p.csv"], "usage: telemetry-audit scan ",
         "did you mean --quiet for --quite, --ledger for --ledgr?"),
    ],
    ids=["scan", "scan-equals", "rules-validate", "baseline-create", "diff", "two-typos"],
)
def test_unknown_option_shows_the_subcommand_usage_and_the_closest_option(
    capsys: pytest.CaptureFixture[str], args: list[str], usage: str, hint: str
) -> None:
    first, last = usage_error(capsys, *args)
    assert first.startswith(usage), first
    assert last.endswith(hint), last


def test_no_suggestion_when_nothing_is_close(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["diff", "a.json", "b.json", "--qiet"], ["rules", "list", "--zzzzzz"]):
        _usage, last = usage_error(capsys, *args)
        assert "did you mean" not in last, last


def test_a_missing_required_option_names_the_typo(capsys: pytest.CaptureFixture[str]) -> None:
    _usage, last = usage_error(capsys, "baseline", "create", "r.json", "--reasn", "r",
                               "--owner", "o", "--expires", "2999-01-01")
    assert "required: --reason" in last and "did you mean --reason for --reasn?" in last


def test_a_valid_abbreviation_gets_no_hint(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["scan", "dump.jsonl", "--led", "p.csv"])
    assert args.ledger == "p.csv" and not hasattr(args, "_parser_in_use")
    _usage, last = usage_error(capsys, "scan", "dump.jsonl", "--led", "p.csv", "--bogus")
    assert "did you mean" not in last


@pytest.mark.parametrize(
    ("args", "usage", "hint"),
    [
        (["scna", "dump.jsonl"], "usage: telemetry-audit [", "did you mean scan?"),
        (["rules", "valdate"], "usage: telemetry-audit rules [", "did you mean validate?"),
        (["baseline", "craete"], "usage: telemetry-audit baseline [", "did you mean create?"),
        (["scan", "d.jsonl", "--stage", "store"], "usage: telemetry-audit scan ",
         "did you mean stored?"),
    ],
)
def test_unknown_subcommand_or_choice_names_the_closest(
    capsys: pytest.CaptureFixture[str], args: list[str], usage: str, hint: str
) -> None:
    first, last = usage_error(capsys, *args)
    assert first.startswith(usage), first
    assert "invalid choice" in last and last.endswith(hint), last


def test_unknown_subcommand_far_from_any_gets_no_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _usage, last = usage_error(capsys, "xyzzy")
    assert "invalid choice: 'xyzzy'" in last and "did you mean" not in last


def test_main_exits_2_on_a_typo(run_cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli("scan", str(SAMPLE), "--ledgr", "x")
    assert exc.value.code == 2
    assert "did you mean --ledger?" in capsys.readouterr().err
