"""The Dask engine gives exactly the pandas engine's findings, on a real local cluster."""

from __future__ import annotations

import copy
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support import CLEAN, DIRECTORY, LEDGER, SAMPLE, compress, har_post, write_har

import audit

pytestmark = pytest.mark.slow


def _without_times(report: audit.Report) -> dict[str, Any]:
    doc = copy.deepcopy(report.to_dict())  # the report's own dicts stay as they are
    for key in ("started", "finished", "duration_seconds", "engine"):
        doc["run"].pop(key)
    doc["run"]["parameters"].pop("jobs")  # the pandas engine's processes
    return doc


def test_dask_local_cluster_matches_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    from dask.distributed import Client, LocalCluster

    from audit import parallel

    folder = tmp_path / "dumps"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "a-sample.jsonl")
    shutil.copy(CLEAN, folder / "b-clean.jsonl")
    # The sample again as Parquet, so a cross-file aggregate (the shared DeviceID) spans
    # partitions of two formats.
    import json

    import pandas as pd

    rows = [json.loads(line) for line in SAMPLE.read_text("utf-8").splitlines()
            if line.startswith("{") and line.endswith("}")]
    rows = [r for r in rows if not isinstance(r.get("SignInAttempts"), str)]  # one type a column
    pd.DataFrame.from_records(rows).to_parquet(folder / "c-sample.parquet")
    # Some of it posted in a HAR capture: its entries and locations come back from workers.
    posted = SAMPLE.read_text("utf-8").splitlines()[:60]
    write_har(folder / "d-capture.har", [
        *(har_post(compress("\n".join(posted[k:k + 20]).encode(), "gzip"), coding="gzip")
          for k in range(0, 60, 20)),
        har_post(b"\x2b\x01\x09\x00", mime="application/bond-compact-binary")])

    kwargs = {"inputs": str(folder), "ledger": str(LEDGER), "identities": str(DIRECTORY)}
    local = audit.scan(**kwargs)
    # Without a ledger, rules end not tested or not applicable from the rows each part saw.
    unledgered = {"inputs": str(folder), "identities": str(DIRECTORY)}
    local_incomplete = audit.scan(**unledgered)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        distributed = audit.scan(**kwargs, engine="dask", scheduler=cluster.scheduler_address)
        incomplete = audit.scan(**unledgered, engine="dask",
                                scheduler=cluster.scheduler_address)
        # Each JSON Lines file cut into one part per worker: still the same report.
        monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
        assert len(parallel.plan(sorted(folder.iterdir()), 2)) == 6
        parted = audit.scan(**kwargs, engine="dask", scheduler=cluster.scheduler_address)
    assert distributed.run["engine"] == "dask"
    assert _without_times(distributed) == _without_times(local)
    assert _without_times(parted) == _without_times(local)
    assert _without_times(incomplete) == _without_times(local_incomplete)
    assert {o.status.value for o in incomplete.outcomes} >= {"not_tested", "not_applicable"}
    assert local.summary.findings_by_rule.get("census/device-id-not-random", 0) > 0
    # The sample's shared DeviceID: each of its six records in each of the two formats.
    shared = Counter(Path(f.source).name for f in local.findings
                     if f.detector == "shared-device-id")
    assert shared == {"a-sample.jsonl": 6, "c-sample.parquet": 6}
    assert {i["path"] for i in local.run["inputs"]} == {str(p) for p in folder.iterdir()}
    capture = next(i for i in distributed.run["inputs"] if i["format"] == "har")
    assert [(e["entry"], e["records"], e["rejected"]) for e in capture["entries"]] == [
        (1, 20, 0), (2, 20, 0), (3, 20, 0), (4, 1, 1)]
    assert {f.location for f in distributed.findings if f.source.endswith(".har")} >= {
        "entry 4, line 1"}


def test_unreachable_scheduler_is_exit_2(run_cli) -> None:
    result = run_cli("scan", str(CLEAN), "--engine", "dask", "--scheduler",
                     "tcp://127.0.0.1:9", "--format", "json")
    assert result.code == 2
    assert "cannot reach the dask scheduler" in result.err
