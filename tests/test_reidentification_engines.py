"""The re-identification analyses give the same findings and summaries in one process,
in two forked processes (files cut into parts) and on a Dask cluster: their partials
are merged across parts, processes and workers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from support import FIXTURES

import audit
from audit import parallel

CASES = FIXTURES / "cases" / "census"
RULES = ("census/re-identification-risk", "census/linkable-to-user",
         "census/not-rehashed-at-rest", "error/user-id-linkable-at-rest")
STAGES = FIXTURES / "dumps" / "stages"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dumps"
    folder.mkdir()
    shutil.copy(CASES / "re-identification-risk" / "events.jsonl", folder / "a-fleet.jsonl")
    shutil.copy(CASES / "linkable-to-user" / "events.jsonl", folder / "b-linked.jsonl")
    # The fleet again, so that its classes and links span files and parts.
    shutil.copy(CASES / "re-identification-risk" / "events.jsonl", folder / "c-fleet.jsonl")
    shutil.copy(CASES / "linkable-to-user" / "events.jsonl", folder / "d-linked.jsonl")
    return folder


def _stored(tmp_path: Path) -> tuple[str, ...]:
    """The stored dump twice (in a folder of its own): stored records in two files."""
    folder = tmp_path / "stored"
    folder.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        shutil.copy(STAGES / "stored.jsonl", folder / name)
    return (str(folder),)


def _seen(report: audit.Report) -> tuple[Any, ...]:
    findings = [(f.rule, Path(f.source).name, f.line, f.field, f.fingerprint, f.evidence,
                 f.explanation.replace(str(Path(f.source).parent), ""))
                for f in report.findings if f.rule in RULES]
    return findings, report.extras.get("reidentification")


def test_two_processes_give_the_same_findings(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path)
    shutil.copy(STAGES / "transit.jsonl", folder / "e-transit.jsonl")
    stored = _stored(tmp_path)
    one = audit.scan(inputs=str(folder), stored=stored, jobs=1, chunk_rows=16)
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)  # each file cut into two parts
    assert len(parallel.plan(sorted(folder.iterdir()), 2)) == 10
    two = audit.scan(inputs=str(folder), stored=stored, jobs=2, chunk_rows=16)
    findings, summary = _seen(one)
    assert {rule for rule, *_ in findings} == set(RULES)
    # The copies carry the same devices: the fleet's small classes keep their k, and
    # their records span two files.
    ks = [f[6].split(":")[0] for f in findings if f[0] == RULES[0]]
    assert "k=3" in ks and "k=1" in ks
    assert _seen(two) == (findings, summary)


@pytest.mark.slow
def test_dask_gives_the_same_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dask.distributed import Client, LocalCluster

    folder = _folder(tmp_path)
    shutil.copy(STAGES / "transit.jsonl", folder / "e-transit.jsonl")
    stored = _stored(tmp_path)
    local = audit.scan(inputs=str(folder), stored=stored, jobs=1)
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        distributed = audit.scan(inputs=str(folder), stored=stored, engine="dask",
                                 scheduler=cluster.scheduler_address)
    assert _seen(distributed) == _seen(local)
    assert {f[0] for f in _seen(local)[0]} == set(RULES)
    assert [i["stage"] for i in distributed.run["inputs"]] == \
        [i["stage"] for i in local.run["inputs"]] == ["transit"] * 5 + ["stored"] * 2
