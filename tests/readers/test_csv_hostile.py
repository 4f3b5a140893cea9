"""Hostile CSV: a header of a million columns, a quoted cell of megabytes spanning lines,
a row of a million cells. Each costs bounded time and memory, no exception, and its
records are counted: every record read is audited or rejected at its line with one
reason, so records read = audited + rejected.

Most inputs are scaled down with lowered limits (``Limits``, ``--limit``); one test per
class runs at a moderate real size with the default limits, its peak memory measured in
a separate process.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import audit.readers.csv as csv_reader
from audit.limits import DEFAULT_LIMITS, KIB, MIB, Limits
from audit.readers import READERS, content_digest, read_batches

HEADER = "category,time,AppName,DeviceModel\n"
ROW = "census,2026-03-02T10:00:00Z,Skype for iPhone,iPhone\n"
UNCLOSED = ("invalid CSV: unexpected end of data (a quoted value is never closed: "
            "the lines after it are part of it)")

Read = tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]


def _read(path: Path, limits: Limits, chunk_rows: int = 1000) -> Read:
    """Every record read, (line, values present), and every rejection, (line, reason)."""
    records: list[tuple[int, dict[str, Any]]] = []
    rejected: list[tuple[int, str]] = []
    for batch in read_batches(path, chunk_rows, limits=limits):
        rows = batch.frame.to_dict("records") if len(batch.frame.columns) else (
            [{}] * len(batch.frame))
        records += [(line, {k: v for k, v in row.items() if isinstance(v, str)})
                    for line, row in zip(batch.lines.tolist(), rows, strict=True)]
        rejected += [(r.line, r.what) for r in batch.rejected]
    return records, rejected


def _python_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read CSV with Python's csv module only, as from a first malformed line on."""
    monkeypatch.setitem(READERS, "csv", dataclasses.replace(READERS["csv"], batches=None))


def _both(path: Path, limits: Limits, monkeypatch: pytest.MonkeyPatch,
          chunk_rows: int = 1000) -> Read:
    """What both paths read, which must be the same."""
    fast = _read(path, limits, chunk_rows)
    with monkeypatch.context() as patched:
        _python_csv(patched)
        assert _read(path, limits, chunk_rows) == fast
    return fast


def _traced_peak(path: Path, limits: Limits) -> tuple[Read, int]:
    """The reading, and the most memory Python held meanwhile (imports done before)."""
    _read(path, limits)  # pandas and pyarrow are imported on first use
    tracemalloc.start()
    try:
        result = _read(path, limits)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _record_starts(text: str) -> list[int]:
    """The first line of each record Python's csv reads (rows and errors, not blank lines)
    after the header: an oracle independent of the reader."""
    lines = io.StringIO(text, newline="").readlines()
    count = 0

    def counted() -> Iterator[str]:
        nonlocal count
        for line in lines:
            count += 1
            yield line

    rows = csv.reader(counted(), strict=True)
    starts: list[int] = []
    while True:
        first = count + 1
        try:
            if next(rows) == []:
                continue
        except StopIteration:
            return starts[1:]
        except csv.Error:
            pass
        starts.append(first)


# -- a scan that mirrors Python's csv -------------------------------------------------------

_CHUNKS = st.sampled_from(['a', 'é', ',', '"', '""', ',"', '",', '\r', '\n', '\r\n', ' '])


@settings(max_examples=500, deadline=None)
@given(st.lists(_CHUNKS, max_size=40).map("".join), st.sampled_from([1, 2, 3, 5, 1000]),
       st.randoms(use_true_random=False))
def test_the_scan_ends_and_counts_records_as_pythons_csv(text: str, field_limit: int,
                                                         rnd: Any) -> None:
    """Where a record past a limit ends is found without csv: it must be where csv ends
    it, its cells counted and a long one seen as csv would build them, whatever pieces
    the text comes in (lines, parts of lines, several lines)."""
    lines = io.StringIO(text, newline="").readlines()
    count = 0

    def counted() -> Iterator[str]:
        nonlocal count
        for line in lines:
            count += 1
            yield line

    rows = csv.reader(counted(), strict=True)
    at = 0  # where the record csv reads next begins in the text
    while True:
        try:
            row: list[str] | str = next(rows)
        except StopIteration:
            assert at == len(text)
            return
        except csv.Error as exc:
            row = str(exc)
        end = len("".join(lines[:count]))  # where csv's record ends
        scan, start = csv_reader._Scan(field_limit), at
        while True:
            stop = min(len(text), start + rnd.randrange(1, 12))
            found = scan.feed(text[start:stop])
            if found >= 0 or stop == len(text):
                break
            start = stop
        if found >= 0:
            at = start + found
            at += text.startswith("\r\n", at - 1)  # the LF of a CR ending a piece
        else:
            at = len(text)
            assert scan.finish() == (row != "unexpected end of data")
        assert at == end, (row, text[:end], text[:at])
        if isinstance(row, list):
            assert not scan.error and scan.fields == len(row)
            assert scan.over == any(len(c.encode()) > field_limit for c in row)
        elif row != "unexpected end of data":
            assert scan.error, row


# -- 1. a header with more columns than the limit --------------------------------------------

def test_a_header_past_the_column_limit_rejects_every_row_at_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No column is known, so no row can be read: each record (blank lines are none) is
    one rejection at its first line, with the header's reason, on both paths."""
    names = [f"c{k}" for k in range(37)] + ['"a, b"', '"two\nlines"', '"say ""hi"""']
    text = (",".join(names) + "\n" + ROW + "\n" + 'census,"x\ny\nz",a,b\n' + ROW
            + 'census,"x"y,a,b\n' + ROW.rstrip("\n"))
    path = tmp_path / "wide.csv"
    path.write_text(text, "utf-8")
    limits = Limits(columns=10)
    records, rejected = _both(path, limits, monkeypatch)
    reason = "the header has 40 columns, more than 10 (--limit columns)"
    assert records == []
    assert rejected == [(line, reason) for line in _record_starts(text)]
    assert [line for line, _ in rejected] == [3, 5, 8, 9, 10]
    # The same names within the limit: the rows are read.
    assert len(_both(path, Limits(columns=40), monkeypatch)[1]) == 5  # all the wrong width


def test_a_wide_header_costs_memory_by_the_limit_not_by_its_width(tmp_path: Path) -> None:
    """200,000 columns against a limit of 10: counting them to the limit builds nothing."""
    path = tmp_path / "wide.csv"
    cells = ",".join(f'"v{k}"' if k % 2 else f"v{k}" for k in range(200_000))
    path.write_text(cells.replace("v", "c") + "\n" + (cells + "\n") * 3, "utf-8")
    (records, rejected), peak = _traced_peak(path, Limits(columns=10))
    assert records == [] and [line for line, _ in rejected] == [2, 3, 4]
    assert rejected[0][1] == "the header has 200,000 columns, more than 10 (--limit columns)"
    assert peak < 32 * MIB  # the file's block, a line of 1.5 MB and a few copies of it


def test_a_row_of_a_million_cells_is_rejected_without_building_it(tmp_path: Path) -> None:
    """A row wider than the header is counted, not built: a million cells is a string
    of 3 MB, where csv's list of them would be some 60 MB."""
    path = tmp_path / "events.csv"
    path.write_text(HEADER + ROW + ",".join(['"ab"', "ab"] * 500_000) + "\n" + ROW, "utf-8")
    (records, rejected), peak = _traced_peak(path, DEFAULT_LIMITS)
    assert [line for line, _ in records] == [2, 4]
    assert rejected == [(3, "expected 4 columns, found 1000000")]
    assert peak < 32 * MIB  # the file's block, the line and a few copies of it


# -- 2. a quoted cell past the field limit ---------------------------------------------------

def _cell_file(path: Path, cell_bytes: int, newlines: bool = True) -> None:
    """Two rows around one whose quoted cell holds ``cell_bytes``, in lines of 50."""
    line = "x" * 49 + ("\n" if newlines else "x")
    path.write_text(HEADER + ROW + 'census,2026-03-02T10:00:00Z,"' + line * (cell_bytes // 50)
                    + '",iPhone\n' + ROW, "utf-8")


@pytest.mark.parametrize("newlines", [True, False])
def test_a_long_quoted_cell_is_one_record_and_reading_goes_on_after_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newlines: bool) -> None:
    """3 records, not one per line of the cell: the cell's record is rejected at its
    first line and the next row is read at its own, whether the cell spans lines (Python
    reads it) or not (pyarrow could, and must not take it)."""
    path = tmp_path / "events.csv"
    _cell_file(path, 4 * MIB, newlines)
    records, rejected = _both(path, Limits(field_bytes=64 * KIB, record_bytes=256 * KIB),
                              monkeypatch)
    last = 3 + (4 * MIB // 50 if newlines else 0) + 1
    assert [line for line, _ in records] == [2, last]
    assert records[1][1]["AppName"] == "Skype for iPhone"
    assert rejected == [(3, "field longer than 64 KiB (--limit field-bytes)")]


def test_a_long_cell_costs_memory_by_the_limits_not_by_its_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """8 MB of cell read with limits of 64 and 256 KiB (and batches scaled down alike)."""
    monkeypatch.setattr(csv_reader, "READ_BLOCK", 64 * KIB)
    monkeypatch.setattr(csv_reader, "BATCH_BYTES", 256 * KIB)
    path = tmp_path / "events.csv"
    _cell_file(path, 8 * MIB)
    (records, rejected), peak = _traced_peak(
        path, Limits(field_bytes=64 * KIB, record_bytes=256 * KIB))
    assert len(records) == 2 and rejected == [
        (3, "field longer than 64 KiB (--limit field-bytes)")]
    assert peak < 4 * MIB  # csv's buffer of the record so far (4 bytes a character), lines


def test_a_long_cell_through_the_cli_is_incomplete(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    _cell_file(path, 1 * MIB)
    result = run_cli("scan", str(path), "--limit", "field-bytes=16KiB", "--limit",
                     "record-bytes=64KiB", "--format", "json")
    assert result.code == 3, result.err
    summary = result.report["summary"]
    assert (summary["records_read"], summary["records_audited"],
            summary["records_rejected"]) == (3, 2, 1)
    assert [(f["line"], f["explanation"]) for f in result.report["findings"]
            if f["rule"] == "input/malformed-record"] == [
        (3, "field longer than 16 KiB (--limit field-bytes)")]
    assert "field longer than 16 KiB (--limit field-bytes)" in result.out


# -- reasons, the limits named ---------------------------------------------------------------

CASES = {
    "a row past record-bytes, no cell past field-bytes": (
        HEADER + ROW + ",".join(["y" * 900] * 4) + "\n" + ROW,
        Limits(record_bytes=2 * KIB, field_bytes=KIB),
        [(3, "record longer than 2 KiB (--limit record-bytes)")], [2, 4]),
    "a cell past field-bytes within record-bytes": (
        HEADER + ROW + f"census,x,{'y' * 2000},z\n" + ROW,
        Limits(record_bytes=64 * KIB, field_bytes=KIB),
        [(3, "field longer than 1 KiB (--limit field-bytes)")], [2, 4]),
    "field-bytes counts bytes, not characters": (
        HEADER + f"census,x,{'é' * 600},z\n" + f"census,x,{'é' * 500},z\n",
        Limits(field_bytes=KIB), [(2, "field longer than 1 KiB (--limit field-bytes)")], [3]),
    "a quote never closed, past record-bytes": (
        HEADER + ROW + 'census,"never closed,a,b\n' + ROW * 100,
        Limits(record_bytes=KIB), [(3, UNCLOSED)], [2]),
    "a row too wide and too long: its width is what is wrong": (
        HEADER + ",".join(["y"] * 3000) + "\n" + ROW,
        Limits(record_bytes=KIB), [(2, "expected 4 columns, found 3000")], [3]),
    "a quoting error inside a row past record-bytes": (
        HEADER + f'census,"{"y" * 2000}"z,a,b\n' + ROW,
        Limits(record_bytes=KIB), [(2, "invalid CSV: ',' expected after '\"'")], [3]),
    "a header past record-bytes": (
        HEADER.replace("category", "c" * 2000) + ROW + "\n" + ROW,
        Limits(record_bytes=KIB),
        [(2, "the header is longer than 1 KiB (--limit record-bytes)"),
         (4, "the header is longer than 1 KiB (--limit record-bytes)")], []),
    "more values than keys (the fast path leaves it to Python)": (
        HEADER + ROW + "census,x,,z\n", Limits(keys=3),
        [(2, "4 keys, more than --limit keys allows (3)")], [3]),
    "a column name past field-bytes": (
        HEADER + ROW, Limits(field_bytes=8),
        [(2, "a column name in the header is longer than 8 (--limit field-bytes)")], []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_limit_is_named_in_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           case: str) -> None:
    text, limits, rejected, lines = CASES[case]
    path = tmp_path / "events.csv"
    path.write_text(text, "utf-8")
    records, found = _both(path, limits, monkeypatch)
    assert found == rejected
    assert [line for line, _ in records] == lines


def test_an_unread_record_keeps_the_digest_of_its_content(tmp_path: Path) -> None:
    """A record read to its end in pieces is identified as one rejected whole is: by
    the digest of its text without the final line break (a baseline keeps matching)."""
    record = 'census,2026-03-02T10:00:00Z,"' + "x" * 49 + "\r\n" * 3 + 'y",iPhone'
    path = tmp_path / "events.csv"
    path.write_bytes((HEADER + record + "\r\n" + ROW).encode())
    with path.open("rb") as handle:
        (batch,) = csv_reader.read_batches(handle, 10, frozenset(), limits=Limits(
            record_bytes=40, field_bytes=20))
    assert [(r.line, r.digest) for r in batch.rejected] == [(2, content_digest(record)),
                                                          (6, content_digest(ROW[:-1]))]


# -- Python's csv module and its process-wide field limit ------------------------------------

def test_csvs_own_field_limit_is_raised_never_lowered() -> None:
    before = csv.field_size_limit()
    try:
        csv.field_size_limit(1 << 40)
        list(csv_reader.read(io.BytesIO((HEADER + ROW).encode()), limits=Limits()))
        assert csv.field_size_limit() == 1 << 40  # a larger limit of other code stands
        csv.field_size_limit(1000)
        text = HEADER + f'census,x,"{"y" * 5000}",z\n'
        records = list(csv_reader.read(io.BytesIO(text.encode()), limits=Limits()))
        assert [(r.line, r.error) for r in records] == [(2, None)]
        assert csv.field_size_limit() >= Limits().record_bytes
    finally:
        csv.field_size_limit(before)


def test_csvs_field_limit_lowered_by_other_code_never_reads_inside_a_cell(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the process-wide limit lowered after the reader raised it (other code, another
    thread), csv stops inside the value: the record is read to its end all the same."""
    before = csv.field_size_limit()
    monkeypatch.setattr(csv_reader, "_allow_fields", lambda chars: None)
    try:
        csv.field_size_limit(1000)
        cell = ("y" * 49 + "\n") * 100
        text = HEADER + ROW + f'census,x,"{cell}",z\n' + ROW
        records = list(csv_reader.read(io.BytesIO(text.encode()), limits=Limits()))
    finally:
        csv.field_size_limit(before)
    assert [(r.line, r.error) for r in records] == [
        (2, None),
        (3, "invalid CSV: field larger than field limit (1000)"),
        (104, None)]


# -- batches are bounded in bytes as well as in rows -----------------------------------------

def test_a_batch_holds_about_batch_bytes_of_rows(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "READ_BLOCK", 16 * KIB)
    monkeypatch.setattr(csv_reader, "BATCH_BYTES", 64 * KIB)
    row = f"census,x,{'y' * 10_000},z\n"
    path = tmp_path / "events.csv"
    path.write_text(HEADER + row * 40, "utf-8")
    for python in (False, True):
        with monkeypatch.context() as patched:
            if python:
                patched.setattr(csv_reader, "_arrow_batch", lambda *args: None)
            with path.open("rb") as handle:
                sizes = [b.records for b in csv_reader.read_batches(handle, 1000, frozenset())]
        assert sum(sizes) == 40 and max(sizes) * len(row) <= 64 * KIB + 16 * KIB + len(row)


# -- the limits change which records are rejected, never which are read ----------------------

_CELLS = st.one_of(
    st.sampled_from(["census", "", "iPhone", "Amos Marble", '"a, b"', '"x""y"']),
    st.text(alphabet="ab ,é", max_size=30),
    st.text(alphabet='ab,"\r\n', max_size=30).map(lambda t: '"' + t.replace('"', '""') + '"'),
    st.sampled_from(['"ab"c', '"never closed', "a\rb"]),
)
_ROWS = st.lists(_CELLS, min_size=1, max_size=8).map(",".join)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_ROWS, max_size=10), st.sampled_from(["\n", "\r\n"]), st.integers(40, 120),
       st.integers(12, 60), st.integers(4, 9), st.sampled_from([1, 2, 3, 7, 1 << 20]))
def test_limits_reject_records_but_never_move_where_they_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[str], newline: str,
        record_bytes: int, field_bytes: int, columns: int, piece: int) -> None:
    """Records past a limit are read to their ends in pieces, however small: the records
    are those read without limits, at the same lines, some of them rejected."""
    path = tmp_path / "events.csv"
    path.write_text(HEADER.replace("\n", newline) + newline.join(rows) + newline, "utf-8",
                    newline="")
    free_records, free_rejected = _read(path, DEFAULT_LIMITS, chunk_rows=3)
    with monkeypatch.context() as patched:
        patched.setattr(csv_reader, "_PIECE", piece)
        assert _read(path, DEFAULT_LIMITS, chunk_rows=3) == (free_records, free_rejected)
        limits = Limits(record_bytes=record_bytes, field_bytes=field_bytes, columns=columns)
        records, rejected = _both(path, limits, patched, chunk_rows=3)
    lines = sorted([line for line, _ in records] + [line for line, _ in rejected])
    assert lines == sorted([line for line, _ in free_records]
                           + [line for line, _ in free_rejected])
    assert all(record in free_records for record in records)  # as read without limits


# -- the classes at a moderate real size, with the default limits --------------------

_MEASURE = """
import json, resource, sys
from audit.cli import main
main(["scan", sys.argv[1], "--quiet", "--format", "json", "--out", sys.argv[3]])  # warm
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = main(["scan", sys.argv[2], "--quiet", "--format", "json", "--out", sys.argv[3]])
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"code": code, "grown_kib": grown}))
"""


def _scan_measured(tmp_path: Path, path: Path) -> tuple[int, int, dict[str, Any]]:
    """Exit code, growth of peak RSS in KiB over a scan of a small CSV in the same process,
    and report.json of ``scan PATH`` run in a separate process."""
    small = tmp_path / "small.csv"
    small.write_text(HEADER + ROW, "utf-8")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(small), str(path), str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    report = json.loads((out / "report.json").read_text("utf-8"))
    return measured["code"], measured["grown_kib"], report


def _malformed(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(f["line"], f["explanation"]) for f in report["findings"]
            if f["rule"] == "input/malformed-record"]


def test_a_header_of_100_000_columns_is_incomplete_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(",".join(f"c{k}" for k in range(100_000)) + "\n")
        for _ in range(3):
            handle.write("census," + ",".join(["v"] * 99_999) + "\n")
    code, grown, report = _scan_measured(tmp_path, path)
    assert code == 3
    summary = report["summary"]
    assert (summary["records_read"], summary["records_audited"],
            summary["records_rejected"]) == (3, 0, 3)
    reason = "the header has 100,000 columns, more than 10,000 (--limit columns)"
    assert _malformed(report) == [(2, reason), (3, reason), (4, reason)]
    assert grown < 100 * 1024  # pyarrow given 100,000 columns took some 900 MiB


def test_a_10_mib_quoted_cell_is_one_rejected_record_in_bounded_memory(tmp_path: Path
                                                                       ) -> None:
    path = tmp_path / "events.csv"
    _cell_file(path, 10 * MIB)
    code, grown, report = _scan_measured(tmp_path, path)
    assert code == 3
    summary = report["summary"]
    assert (summary["records_read"], summary["records_audited"],
            summary["records_rejected"]) == (3, 2, 1)
    assert _malformed(report) == [(3, "field longer than 8 MiB (--limit field-bytes)")]
    assert grown < 200 * 1024  # csv's buffer of 8 MiB (4 bytes a character), its lines
