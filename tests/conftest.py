"""Fixtures shared by every test folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from audit.cli import main
from audit.detectors.multipattern import CACHE_ENV


@pytest.fixture(scope="session", autouse=True)
def compiled_pattern_cache(tmp_path_factory: pytest.TempPathFactory):
    """Compiled pattern databases go to a folder of this test session (and CLI runs in
    subprocesses share it through the environment), never to the user's cache."""
    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("pattern-cache"))
    yield
    if before is None:
        del os.environ[CACHE_ENV]
    else:
        os.environ[CACHE_ENV] = before


class CliRun:
    """Result of one in-process CLI run."""

    def __init__(self, code: int, out: str, err: str, out_dir: Path) -> None:
        self.code, self.out, self.err, self.out_dir = code, out, err, out_dir

    @property
    def report(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.out_dir / "report.json").read_text("utf-8"))
        return loaded


@pytest.fixture
def run_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Run the CLI in-process; ``scan`` writes into a temporary folder."""

    def run(*args: str, out: Path | None = None) -> CliRun:
        out_dir = out or tmp_path / "out"
        argv = list(args)
        if argv and argv[0] == "scan" and "--out" not in argv:
            argv += ["--out", str(out_dir)]
        code = main(argv)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err, out_dir)

    return run
