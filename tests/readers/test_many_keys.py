"""Records that each bring keys of their own: a frame holds a cell for every row of every
column, so 20,000 one-line records with a key each would make 400 million cells (7 GB)
of a file of 700 KB. Batches and chunks are cut to stay within BATCH_CELLS; the report is
the same as uncut, and memory stays bounded."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import ROOT, make_event

import audit
from audit import chunks, limits
from audit.readers import batches_of, jsonl, parquet, read_batches, read_records

PEAK = re.compile(r"VmHWM:\s+(\d+)")


def unique_keys(n: int) -> list[dict[str, Any]]:
    return [make_event("census", **{f"key{i}": f"value {i}"}) for i in range(n)]


def write(tmp_path: Path, name: str, events: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(e) + "\n" for e in events), "utf-8")
    elif name.endswith(".json"):
        path.write_text(json.dumps(events), "utf-8")
    else:
        columns = sorted({k for e in events for k in e})
        pq.write_table(pa.table({c: pa.array([e.get(c) for e in events], type=pa.string()
                                             if c not in ("SignInAttempts", "SignInFailures")
                                             else pa.int64()) for c in columns}), path)
    return path


def report(path: Path, **options: Any) -> dict[str, Any]:
    doc = audit.scan(inputs=str(path), chunk_rows=50_000, jobs=1, **options).to_dict()
    for key in ("started", "finished", "duration_seconds"):
        doc["run"].pop(key)
    return doc


@pytest.mark.parametrize("name", ["d.jsonl", "d.json", "d.parquet"])
def test_cut_batches_give_the_same_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          name: str) -> None:
    path = write(tmp_path, name, unique_keys(1_500))
    whole = report(path)
    for module in (limits, chunks, jsonl, parquet, sys.modules["audit.readers"]):
        monkeypatch.setattr(module, "BATCH_CELLS", 40_000, raising=False)
    monkeypatch.setattr(jsonl, "MIN_BATCH_LINES", 16)
    cut = report(path)
    assert cut == whole
    assert whole["summary"]["findings_by_rule"]["census/undeclared-field"] == 1_500


@pytest.mark.parametrize("name", ["d.jsonl", "d.json", "d.parquet"])
def test_every_batch_stays_within_the_cells(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, unique_keys(6_000))
    batches = list(read_batches(path, 50_000))
    assert sum(len(b.frame) for b in batches) == 6_000
    assert len(batches) > 1
    # The JSON Lines estimate is a sample: it may let a batch exceed a little, not 10 times.
    assert max(b.frame.size for b in batches) <= 2 * limits.BATCH_CELLS


def test_records_in_one_list_are_cut_where_their_keys_add_up(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setattr(sys.modules["audit.readers"], "BATCH_CELLS", 1_000)
    records = [*read_records(write(tmp_path, "d.json", unique_keys(100))), *read_records(
        write(tmp_path, "e.json", ["not an event"]))]  # type: ignore[list-item]
    batches = list(batches_of(records))
    assert sum(len(b.frame) for b in batches) == 100
    assert len(batches) > 1 and all(b.frame.size <= 1_000 for b in batches)
    assert [len(b.rejected) for b in batches] == [1] + [0] * (len(batches) - 1)


def test_20000_records_with_a_key_each_stay_bounded(tmp_path: Path) -> None:
    """Before: 63 s and 7.4 GB, then MemoryError (exit 2). A scan in its own process, its
    peak read from /proc (a forked child's ru_maxrss would include its parent's)."""
    path = write(tmp_path, "d.jsonl", unique_keys(20_000))
    code = (
        "import sys, re\n"
        "from audit.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "status = open('/proc/self/status').read()\n"
        "print(code, re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, "scan", str(path), "--format", "json",
                           "--quiet", "--out", str(tmp_path / "out"), "--jobs", "1"],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)
    exit_code, peak_kib = map(int, done.stdout.split())
    assert exit_code == 1, done.stderr  # 20,000 undeclared fields: high
    doc = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert doc["summary"]["records_audited"] == 20_000
    assert doc["summary"]["findings_by_rule"]["census/undeclared-field"] == 20_000
    assert peak_kib < 900 * 1024, peak_kib
