"""A built wheel carries the package, the console script, the rule pack and its
dependencies: it is installed into a venv that sees nothing of the base interpreter,
with its declared dependencies resolved by pip, as a user's ``pip install`` would."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from support import ROOT, SAMPLE

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )


def test_wheel_installs_and_finds_the_rule_pack(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        wheels,
        ROOT,
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("telemetry_audit-*.whl"))
    env_dir = tmp_path / "venv"
    # No system site packages: a dependency missing from pyproject.toml must fail here,
    # whatever the machine's own interpreter happens to have installed.
    venv.EnvBuilder(system_site_packages=False, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    where = run(
        python,
        "-c",
        "import audit, audit.rulepack as r; print(audit.__file__); print(r.builtin_dir())",
        cwd=tmp_path,
    )
    package_file, rules_dir = where.stdout.split()
    assert str(env_dir) in package_file, "the wheel's package must be the one imported"
    assert rules_dir.endswith("audit/builtin_rules"), rules_dir

    listed = run(env_dir / "bin" / "telemetry-audit", "rules", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "census/undeclared-field" in listed.stdout

    scanned = run(
        env_dir / "bin" / "telemetry-audit",
        "scan",
        SAMPLE,
        "--format",
        "json",
        "--out",
        tmp_path / "out",
        cwd=tmp_path,
    )
    assert scanned.returncode == 1, scanned.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert report["summary"]["verdict"] == "fail"
    validated = run(
        python,
        "-c",
        "import json,sys,jsonschema; from audit.renderers.json import "
        "report_schema; jsonschema.validate(json.load(open(sys.argv[1])), "
        "report_schema())",
        tmp_path / "out" / "report.json",
        cwd=tmp_path,
    )
    assert validated.returncode == 0, validated.stderr
