"""Small files share chunks: the records of many files are checked together, each row
keeping its own input and line, and the report is the one a scan file by file gives."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from support import DIRECTORY, LEDGER, SAMPLE, make_event

import audit
from audit import chunks, parallel
from audit import units as unit_of_work
from audit.limits import DEFAULT_LIMITS
from audit.units import Unit

MAPPING = Path(__file__).resolve().parent.parent / "fixtures" / "mappings" / "common-schema.yaml"


def _report(**kwargs: Any) -> dict[str, Any]:
    """The report as a dict, without what differs from run to run or by how it ran."""
    doc = audit.scan(quiet=True, **kwargs).to_dict()
    for key in ("started", "finished", "duration_seconds", "engine"):
        doc["run"].pop(key)
    for key in ("chunk_rows", "jobs"):
        doc["run"]["parameters"].pop(key)
    return doc


def _file_by_file(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> dict[str, Any]:
    """The report of a scan that reads and checks one file at a time, every file through
    its reader's own batches (as scans did before files shared chunks)."""
    with monkeypatch.context() as patch:
        patch.setattr(parallel, "plan",
                      lambda files, parts, stored=(): [Unit((f,)) for f in files])
        patch.setattr(chunks, "SMALL_FILE_BYTES", -1)
        return _report(**kwargs)


def _folder(tmp_path: Path) -> Path:
    """The sample dump as one file per event, among files of other formats and sizes: a
    broken line, a record of no category, CSV (untyped), a JSON array, gzip, an empty
    file, and a file too large to be read record by record."""
    folder = tmp_path / "events"
    folder.mkdir()
    lines = SAMPLE.read_text("utf-8").splitlines()
    for n, line in enumerate(lines):
        (folder / f"e{n:03d}.jsonl").write_text(line + "\n", "utf-8")
    (folder / "e050b.jsonl").write_text('{"category": "census", "AppName": \n'
                                        + json.dumps(make_event("usage")) + "\n", "utf-8")
    (folder / "e100b.jsonl").write_text(json.dumps({"AppName": "x"}) + "\n", "utf-8")
    (folder / "e150b.csv").write_text(
        "category,time,client,tenant,IMSent\n"
        "usage,2026-03-02T10:00:00Z,desktop,contoso.com,12\n"
        "usage,2026-03-02T11:00:00Z,tablet,contoso.com,many\n", "utf-8")
    (folder / "e151b.jsonl").write_text(
        json.dumps(make_event("usage", IMSent="12")) + "\n", "utf-8")  # a string: not typed
    (folder / "e200b.json").write_text(json.dumps([make_event("error"),
                                                   make_event("census", Email="a@b.com")]),
                                       "utf-8")
    (folder / "e220b.jsonl.gz").write_bytes(gzip.compress(
        (json.dumps(make_event("census", DeviceModel="Amos Marble's iPhone")) + "\n").encode()))
    (folder / "e230b.jsonl").write_text("", "utf-8")
    # The sample's shared DeviceID again, for a user it had already: one more finding.
    shared = json.loads(lines[194])
    assert shared["DeviceID"] == SHARED_DEVICE
    (folder / "e235b.jsonl").write_text(json.dumps(make_event("usage")) + "\n"
                                        + json.dumps(shared) + "\n", "utf-8")
    big = [make_event("usage", IMSent=n, note=f"padding {n:06d} " * 8) for n in range(400)]
    big[17]["Phone"] = "+1 425 555 0100"
    (folder / "e240b.jsonl").write_text("".join(json.dumps(e) + "\n" for e in big), "utf-8")
    assert (folder / "e240b.jsonl").stat().st_size > chunks.SMALL_FILE_BYTES
    return folder


def test_small_files_give_the_report_of_a_scan_file_by_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path)
    kwargs = {"inputs": str(folder), "ledger": str(LEDGER), "identities": str(DIRECTORY)}
    shared = _report(**kwargs)
    assert shared == _file_by_file(monkeypatch, **kwargs)
    rules = {f["rule"] for f in shared["findings"]}
    assert {"input/malformed-record", "census/undeclared-field", "usage/undeclared-field",
            "census/identifies-user"} <= rules
    # A cross-record finding (one DeviceID of many users, seen across files) is merged in.
    assert any(f["detector"] == "shared-device-id" for f in shared["findings"])
    # Chunks smaller than a file, and files cut across chunks, change nothing either.
    assert _report(**kwargs, chunk_rows=7) == shared


def test_each_input_keeps_its_records_rejections_and_digest(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    wide = make_event("census", **{f"extra{k}": k for k in range(10)})  # over keys=15
    (folder / "a.jsonl").write_text(json.dumps(wide) + "\n" + json.dumps(make_event()) + "\n",
                                    "utf-8")
    (folder / "b.jsonl").write_text(json.dumps(make_event()) + "\n{broken\n", "utf-8")
    (folder / "c.jsonl").write_text(json.dumps(make_event("usage")) + "\n", "utf-8")
    report = audit.scan(inputs=str(folder), limits=DEFAULT_LIMITS.with_setting("keys=15"),
                        quiet=True)
    inputs = report.run["inputs"]
    assert [(Path(i["path"]).name, i["records"], i["rejected"]) for i in inputs] == [
        ("a.jsonl", 2, 1), ("b.jsonl", 2, 1), ("c.jsonl", 1, 0)]
    for info in inputs:
        assert info["sha256"] == hashlib.sha256(Path(info["path"]).read_bytes()).hexdigest()
    # Both rejected records are line 1 or 2 of their own file, not of the shared chunk.
    rejected = sorted((Path(f.source).name, f.line) for f in report.findings
                      if f.rule == "input/malformed-record")
    assert rejected == [("a.jsonl", 1), ("b.jsonl", 2)]
    assert report.summary.records_read == 5 and report.summary.records_rejected == 2


def test_findings_are_in_input_then_line_order(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    report = audit.scan(inputs=str(folder), ledger=str(LEDGER), quiet=True)
    position = {info["path"]: n for n, info in enumerate(report.run["inputs"])}
    keys = [(position[f.source], f.line, f.rule, f.field or "") for f in report.findings]
    assert keys == sorted(keys)
    assert len({f.source for f in report.findings}) > 20


def test_many_small_files_are_checked_in_one_chunk(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules run per chunk, not per file: 300 one-event files are one chunk (three
    of at most 100 records with ``chunk_rows=100``)."""
    folder = tmp_path / "events"
    folder.mkdir()
    for n in range(300):
        event = make_event(("census", "usage", "error")[n % 3])
        (folder / f"e{n:03d}.jsonl").write_text(json.dumps(event) + "\n", "utf-8")
    sizes: list[int] = []
    check = unit_of_work.check_chunk

    def counted(chunk: Any, *args: Any) -> Any:
        sizes.append(chunk.audited + len(chunk.rejected))
        return check(chunk, *args)

    monkeypatch.setattr(unit_of_work, "check_chunk", counted)
    report = audit.scan(inputs=str(folder), quiet=True)
    assert sizes == [300]
    assert len(report.run["inputs"]) == 300
    sizes.clear()
    audit.scan(inputs=str(folder), quiet=True, chunk_rows=100)
    assert sizes == [100, 100, 100]


def test_a_large_file_streams_between_small_ones(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file too large to gather is read by its reader's own batches, and the chunks it
    fills are shared with the small files before and after it, never over chunk_rows."""
    folder = _folder(tmp_path)
    sizes: list[int] = []
    names: list[set[str]] = []
    check = unit_of_work.check_chunk

    def counted(chunk: Any, *args: Any) -> Any:
        sizes.append(chunk.audited + len(chunk.rejected))
        names.append({Path(chunk.sources[i]).name for i in chunk.inputs.tolist()})
        return check(chunk, *args)

    monkeypatch.setattr(unit_of_work, "check_chunk", counted)
    report = audit.scan(inputs=str(folder), quiet=True, chunk_rows=150)
    assert max(sizes) <= 150
    assert sum(sizes) == report.summary.records_read
    # 400 records in batches of 150: two chunks of its own, its last 100 records shared
    # with the small files after it.
    assert [len(n) for n in names if "e240b.jsonl" in n][:2] == [1, 1]
    assert any("e240b.jsonl" in n and "e241.jsonl" in n for n in names)


def test_a_field_mapping_applies_to_each_file_as_it_would_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mapping replaces a reference field by its source where the source is present:
    files with the source and files without it must not be mapped as one frame (the
    reference UserID of the second file would be dropped)."""
    folder = tmp_path / "events"
    folder.mkdir()
    enveloped = {"name": "census", "ver": "1", "iKey": "o:1", "time": "2026-03-02T10:00:00Z",
                 "data": {"category": "census", "signInAttempts": 2, "signInFailures": 0},
                 "ext": {"app": {"name": "iPhoneSkype"}, "device": {
                     "model": "iPhone", "localId": "5E872200-F546-4CCD-8F23-AF5F507AA2DD"},
                     "os": {"name": "iPhoneiOS", "ver": "8.3"},
                     "user": {"locale": "EN-US",
                              "localId": "E296D735-4F36-4E18-7C3B-52E1A02A0164"}}}
    for n in range(4):
        event = enveloped if n % 2 else make_event("census")
        (folder / f"e{n}.jsonl").write_text(json.dumps(event) + "\n", "utf-8")
    kwargs = {"inputs": str(folder), "mapping": str(MAPPING)}
    shared = _report(**kwargs)
    assert shared == _file_by_file(monkeypatch, **kwargs)
    assert not [f for f in shared["findings"] if f["field"] == "UserID"]


def test_plan_groups_small_files_and_keeps_cut_files_apart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = []
    for n in range(40):
        path = tmp_path / f"s{n:02d}.jsonl"
        path.write_text(json.dumps(make_event()) + "\n", "utf-8")
        small.append(path)
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps(make_event()) + "\n" for _ in range(200)), "utf-8")
    files = [*small[:20], big, *small[20:]]
    # One process: one unit for all (nothing is cut).
    assert parallel.plan(files, 1) == [Unit(tuple(files))]
    # Over processes: a cut file's parts are units of their own, small files grouped
    # around them into about UNITS_PER_PROCESS units per process, in input order.
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", big.stat().st_size)
    units = parallel.plan(files, 2)
    parts = [u for u in units if u.part is not None]
    assert len(parts) == 2 and all(u.files == (big,) for u in parts)
    grouped = [u for u in units if u.part is None]
    assert all(len(u.files) > 1 for u in grouped) and 4 <= len(grouped) <= 12
    listed = [f for u in units for f in u.files]
    assert [f for k, f in enumerate(listed) if k == 0 or listed[k - 1] != f] == files


SHARED_DEVICE = "6F9619FF-8B86-4011-B42D-00C04FC964FF"


def _shared(report: dict[str, Any]) -> list[tuple[str, int]]:
    """Where the shared DeviceID was found: every record that carries it, each file's."""
    return [(Path(f["source"]).name, f["line"]) for f in report["findings"]
            if f["detector"] == "shared-device-id"]


SHARED_AT = [*((f"e{n:03d}.jsonl", 1) for n in (194, 207, 220, 233)), ("e235b.jsonl", 2),
             *((f"e{n:03d}.jsonl", 1) for n in (246, 259))]


def test_jobs_give_the_same_report(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    kwargs = {"inputs": str(folder), "ledger": str(LEDGER), "identities": str(DIRECTORY)}
    assert len(parallel.plan(sorted(p for p in folder.iterdir()), 2)) > 2
    one = _report(**kwargs, jobs=1)
    assert _shared(one) == SHARED_AT
    assert _report(**kwargs, jobs=2) == one


@pytest.mark.slow
def test_dask_gives_the_same_report(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    folder = _folder(tmp_path)
    kwargs = {"inputs": str(folder), "ledger": str(LEDGER), "identities": str(DIRECTORY)}
    local = _report(**kwargs)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        distributed = _report(**kwargs, engine="dask", scheduler=cluster.scheduler_address)
    assert _shared(local) == SHARED_AT
    assert distributed == local
