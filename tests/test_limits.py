"""--limit NAME=VALUE: sizes with units, names checked, recorded in the report."""

from __future__ import annotations

import pytest
from support import CLEAN, LEDGER

from audit.limits import DEFAULT_LIMITS, GIB, KIB, MIB, Limits, parse_size, size_text


@pytest.mark.parametrize(("text", "value"), [
    ("1000", 1000), ("64KiB", 64 * KIB), ("8M", 8 * MIB), ("2 GiB", 2 * GIB), ("3kb", 3 * KIB),
    ("12b", 12)])
def test_sizes(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5MiB", "ten", "5x", "1TiB"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match=r"limit must be at least 1|not a number or a size"):
        parse_size(text)


def test_settings_change_one_limit_each() -> None:
    limits = DEFAULT_LIMITS.with_setting("keys=200000").with_setting("record-bytes=64MiB")
    assert limits == Limits(keys=200_000, record_bytes=64 * MIB)
    assert limits.describe()["keys"] == 200_000
    with pytest.raises(ValueError, match="NAME one of record-bytes"):
        DEFAULT_LIMITS.with_setting("speed=1")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        DEFAULT_LIMITS.with_setting("keys")
    assert size_text(8 * MIB) == "8 MiB" and size_text(10_000) == "10,000"


def test_cli_applies_limits_in_order_and_reports_them(run_cli, capsys) -> None:
    result = run_cli("scan", str(CLEAN), "--ledger", str(LEDGER), "--limit", "keys=5",
                     "--limit", "keys=200000", "--format", "json")
    assert result.report["run"]["parameters"]["limits"]["keys"] == 200_000
    with pytest.raises(SystemExit) as exc:
        run_cli("scan", str(CLEAN), "--limit", "keys=lots")
    assert exc.value.code == 2 and "--limit" in capsys.readouterr().err


def test_readme_lists_every_limit_with_its_default() -> None:
    from support import ROOT

    readme = (ROOT / "README.md").read_text("utf-8")
    for name, value in DEFAULT_LIMITS.describe().items():
        assert f"| `{name}` | {size_text(value)} |" in readme, name
