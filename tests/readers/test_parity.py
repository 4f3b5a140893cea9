"""The same events in every format give the same findings, each at its format's line."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support import make_event

import audit

EVENTS: list[dict[str, Any]] = [
    make_event("census"),
    make_event("census", Email="amos.marble@contoso.com"),  # undeclared
    make_event("usage", client="tablet"),  # enum
    make_event("usage", client="mobile", tenant=None),  # required when desktop/mobile
    make_event("error", crash=True, platform="windows"),
    make_event("error", time="yesterday"),  # date-time format
    make_event("census", UserLanguage="English (US)"),  # pattern
    make_event("usage", IMSent=-3),  # minimum
    make_event("census", SignInFailures=None),
    make_event("error", ext={"user": {"localId": "abc"}}),  # nested → ext.user.localId
]


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def write(fmt: str, folder: Path) -> Path:
    """Write EVENTS in one format; returns the path."""
    if fmt == "jsonl":
        path = folder / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS), "utf-8")
    elif fmt == "json":
        path = folder / "events.json"
        path.write_text(json.dumps(EVENTS, indent=2), "utf-8")
    elif fmt == "csv":
        from audit.normalize import flatten

        rows = [flatten(e) for e in EVENTS]
        header = list(dict.fromkeys(k for r in rows for k in r))
        path = folder / "events.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([[_cell(r[k]) if k in r else "" for k in header] for r in rows])
    elif fmt == "parquet":
        path = folder / "events.parquet"
        pd.DataFrame.from_records(EVENTS).to_parquet(path)
    else:
        inner = write(fmt.removesuffix(".gz"), folder)
        path = inner.with_name(inner.name + ".gz")
        path.write_bytes(gzip.compress(inner.read_bytes()))
    return path


#: Where record N (1-based) is reported in each format.
LINE_OF = {
    "jsonl": lambda n: n,
    "json": lambda n: n,
    "parquet": lambda n: n,
    "csv": lambda n: n + 1,
}
FORMATS = ["jsonl", "json", "csv", "parquet", "jsonl.gz", "json.gz", "csv.gz", "parquet.gz"]


def findings(path: Path) -> set[tuple[str, int, str | None, str]]:
    report = audit.scan(inputs=str(path))
    assert report.summary.records_read == len(EVENTS)
    return {(f.rule, f.line, f.field, f.fingerprint) for f in report.findings}


def test_expected_findings_on_jsonl(tmp_path: Path) -> None:
    got = {(rule, line, field) for rule, line, field, _ in findings(write("jsonl", tmp_path))}
    assert got == {
        ("census/undeclared-field", 2, "Email"),
        ("census/identifies-user", 2, "Email"),
        ("usage/schema-violation", 3, "client"),
        ("usage/schema-violation", 4, "tenant"),
        ("error/schema-violation", 6, "time"),
        ("census/schema-violation", 7, "UserLanguage"),
        ("usage/schema-violation", 8, "IMSent"),
        ("error/undeclared-field", 10, "ext.user.localId"),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_gives_the_same_findings(tmp_path: Path, fmt: str) -> None:
    base = {(r, ln, fl, fp) for r, ln, fl, fp in findings(write("jsonl", tmp_path))}
    other = findings(write(fmt, tmp_path))
    to_line = LINE_OF[fmt.removesuffix(".gz")]
    assert other == {(r, to_line(ln), fl, fp) for r, ln, fl, fp in base}


def test_folder_of_files_reads_each(tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv"):
        write(fmt, tmp_path)
    (tmp_path / "notes.txt").write_text("not a dump")
    report = audit.scan(inputs=str(tmp_path))
    assert report.summary.records_read == 2 * len(EVENTS)
    assert [Path(i["path"]).name for i in report.run["inputs"]] == ["events.csv", "events.jsonl"]
    assert [Path(p).name for p in report.run["skipped_files"]] == ["notes.txt"]


def test_har_bodies_are_read(tmp_path: Path) -> None:
    entries = [
        {
            "request": {
                "method": "POST",
                "url": "https://telemetry.invalid/collect",
                "postData": {"mimeType": "application/json", "text": json.dumps(EVENTS[:3])},
            }
        },
        {"request": {"method": "GET", "url": "https://telemetry.invalid/ping"}},
        {
            "request": {
                "method": "POST",
                "url": "https://telemetry.invalid/collect",
                "postData": {
                    "mimeType": "application/x-ndjson",
                    "text": "\n".join(json.dumps(e) for e in EVENTS[3:]),
                },
            }
        },
    ]
    path = tmp_path / "capture.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}), "utf-8")
    base = {(r, ln, fl, fp) for r, ln, fl, fp in findings(write("jsonl", tmp_path))}
    assert findings(path) == base


def _report_without_times(**kwargs: Any) -> dict[str, Any]:
    doc = audit.scan(**kwargs).to_dict()
    for key in ("started", "finished", "duration_seconds"):
        doc["run"].pop(key)
    doc["run"]["parameters"].pop("chunk_rows")
    doc["run"]["parameters"].pop("jobs")
    return doc


def test_arrow_fast_path_equals_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from support import LEDGER, SAMPLE

    from audit.readers import jsonl

    fast = _report_without_times(inputs=str(SAMPLE), ledger=str(LEDGER), chunk_rows=40)
    monkeypatch.setattr(jsonl, "_arrow_frame", lambda *args: None)
    slow = _report_without_times(inputs=str(SAMPLE), ledger=str(LEDGER), chunk_rows=40)
    assert fast == slow
    assert fast["findings"]


@pytest.mark.parametrize("block", [64, 4096])
def test_arrow_blocks_equal_line_by_line(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """pyarrow parses a batch in blocks; lines longer than a block are parsed whole."""
    from support import LEDGER, SAMPLE

    from audit.chunks import string_fields
    from audit.readers import jsonl

    monkeypatch.setattr(jsonl, "PARSE_BLOCK", block)
    lines = SAMPLE.read_bytes().splitlines(keepends=True)[:20]
    strings = string_fields(audit.load_rule_pack())
    assert jsonl._arrow_frame(b"".join(lines), len(lines), strings) is not None
    fast = _report_without_times(inputs=str(SAMPLE), ledger=str(LEDGER), chunk_rows=40)
    monkeypatch.setattr(jsonl, "_arrow_frame", lambda *args: None)
    slow = _report_without_times(inputs=str(SAMPLE), ledger=str(LEDGER), chunk_rows=40)
    assert fast == slow


def test_parts_in_processes_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from support import DIRECTORY, LEDGER, SAMPLE

    from audit import parallel

    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    units = parallel.plan([SAMPLE], 3)
    assert len(units) == 3 and units[1][1] is not None and units[1][1].first_line > 1
    kwargs = {"inputs": str(SAMPLE), "ledger": str(LEDGER), "identities": str(DIRECTORY)}
    one = _report_without_times(**kwargs, jobs=1)
    three = _report_without_times(**kwargs, jobs=3)
    assert three == one  # the file's digest, taken beside the workers, included
    # Statuses decided from the rows each part saw (not tested, not applicable) too.
    del kwargs["ledger"]
    assert _report_without_times(**kwargs, jobs=3) == _report_without_times(**kwargs, jobs=1)
    auto = audit.scan(**kwargs)  # as large as a split is worth: one process per core
    assert auto.run["parameters"]["jobs"] == parallel.jobs_for([SAMPLE], 0) >= 1


def test_automatic_jobs_need_large_inputs(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    from audit import parallel

    small = tmp_path / "small.jsonl"
    small.write_text("{}\n", "utf-8")
    assert parallel.jobs_for([small], 0) == 1  # a pool is not worth its start
    assert parallel.jobs_for([small], 3) == 3  # an explicit count is kept
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 2)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(20)),
                        raising=False)
    assert parallel.jobs_for([small, tmp_path / "gone.jsonl"], 0) == parallel.MAX_AUTO_JOBS
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert parallel.jobs_for([small], 0) == 2


def test_a_scanning_process_that_dies_is_an_error_not_a_hang(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed (out of memory, a crash in native code) ends the scan with an
    audit error naming what happened; the pool does not wait for it forever."""
    import os

    from support import SAMPLE

    from audit import parallel
    from audit.errors import AuditError

    scan_file = parallel.scan_file
    here = os.getpid()

    def dies_on_the_second_part(*args: Any, **kwargs: Any) -> Any:
        part = args[5]
        if os.getpid() != here and part is not None and part.first_line > 1:
            os._exit(1)  # as the kernel's out-of-memory killer would end it
        return scan_file(*args, **kwargs)

    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "scan_file", dies_on_the_second_part)
    with pytest.raises(AuditError, match="ended abruptly"):
        audit.scan(inputs=str(SAMPLE), jobs=2, quiet=True)


def test_a_file_gone_before_it_is_cut_is_an_input_error(tmp_path: Path) -> None:
    """Listed, then removed before the scan plans its parts: the usual error naming it."""
    from audit import parallel, readers
    from audit.errors import InputError
    from audit.units import Unit

    gone = tmp_path / "gone.jsonl"
    assert parallel.plan([gone], 2) == [Unit((gone,))]
    with pytest.raises(InputError, match=r"gone\.jsonl"):
        list(readers.read_batches(gone, 10))
