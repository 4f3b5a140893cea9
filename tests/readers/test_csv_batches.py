"""CSV batches parsed by pyarrow give the records, lines and rejections of Python's csv."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DIRECTORY, LEDGER, make_event

import audit
from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import READERS, Rejection, content_digest, read_batches
from audit.readers.csv import read_batches as csv_batches

HEADER = "category,time,AppName,DeviceModel\n"
SMALL = Limits(record_bytes=48, field_bytes=12, columns=5)  # the header's 34 bytes fit


def _records(path: Path, chunk_rows: int, limits: Limits = DEFAULT_LIMITS
             ) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]:
    """Every record read (line, values present) and every rejection, in order."""
    records, rejected = [], []
    for batch in read_batches(path, chunk_rows, limits=limits):
        frame = batch.frame
        rows = frame.to_dict("records") if len(frame.columns) else [{}] * len(frame)
        for line, row in zip(batch.lines.tolist(), rows, strict=True):
            records.append((line, {k: v for k, v in row.items()
                                   if not (v is None or (isinstance(v, float) and math.isnan(v)))}))
        rejected.extend(batch.rejected)
    return records, rejected


def _python_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(READERS, "csv", dataclasses.replace(READERS["csv"], batches=None))


_FIELDS = st.one_of(
    st.sampled_from(["census", "usage", "2026-03-02T10:00:00Z", "", "iPhone", "Amos Marble"]),
    st.text(alphabet='ab ,"\n\r-é', max_size=6),  # commas, quotes, line breaks, spaces
    st.text(alphabet="ab,", max_size=4).map(lambda t: '"' + t.replace('"', '""') + '"'),
    # quotes pyarrow would read leniently where Python's csv refuses, and lone CRs
    st.sampled_from(['"ab"c', 'a"b', '"a" ', ' "a"', '"a""b"', "a\rb", '"x\ry"']),
)
_LINES = st.one_of(
    st.lists(_FIELDS, min_size=4, max_size=4).map(",".join),  # the header's width
    st.lists(_FIELDS, min_size=1, max_size=6).map(",".join),  # any width
    st.sampled_from(["", "   ", '"multi\nline",x,y,z', "census,\"never closed,x,y"]),
)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_LINES, max_size=14), st.sampled_from(["\n", "\r\n"]),
       st.integers(min_value=1, max_value=6), st.booleans(), st.booleans(),
       st.sampled_from([DEFAULT_LIMITS, SMALL]))
def test_batches_read_what_python_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], newline: str,
        chunk_rows: int, final_newline: bool, bad_byte: bool, limits: Limits) -> None:
    """Under small limits too: pyarrow must leave a row past one to Python, which rejects it."""
    text = HEADER.replace("\n", newline) + newline.join(lines) + (newline if final_newline else "")
    raw = text.encode("utf-8")
    if bad_byte and lines:
        raw = raw.replace(b"a", b"\xff", 1)
    path = tmp_path / "events.csv"
    path.write_bytes(raw)
    fast = _records(path, chunk_rows, limits)
    with monkeypatch.context() as patched:
        _python_csv(patched)
        assert _records(path, chunk_rows, limits) == fast


def test_well_formed_lines_are_parsed_by_pyarrow(tmp_path: Path) -> None:
    """Not only equal, but taken by the fast path: the batch is full and in one piece."""
    path = tmp_path / "events.csv"
    rows = [f'census,2026-03-02T10:00:0{k}Z,"Skype, for iPhone","say ""hi"""' for k in range(5)]
    path.write_text(HEADER + "\n".join(rows[:2]) + "\n\n" + "\n".join(rows[2:]) + "\n", "utf-8")
    with path.open("rb") as handle:
        batches = list(csv_batches(handle, 3, frozenset()))
    assert [b.lines.tolist() for b in batches] == [[2, 3], [5, 6, 7]]
    assert batches[0].frame["AppName"].tolist() == ["Skype, for iPhone"] * 2
    assert batches[1].frame["DeviceModel"].tolist() == ['say "hi"'] * 3


def test_after_a_record_spanning_lines_python_reads_on(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    ok = "census,2026-03-02T10:00:00Z,iPhoneSkype,iPhone"
    path.write_text(HEADER + f'{ok}\n{ok}\ncensus,x,"two\nlines",y\n{ok}\n{ok},extra\n', "utf-8")
    with path.open("rb") as handle:
        batches = list(csv_batches(handle, 2, frozenset()))
    assert [b.lines.tolist() for b in batches] == [[2, 3], [4, 6], []]
    assert batches[1].frame["AppName"].tolist() == ["two\nlines", "iPhoneSkype"]
    assert batches[2].rejected == [
        Rejection(7, "expected 4 columns, found 5", content_digest(f"{ok},extra"))]


@pytest.mark.parametrize("compressed", [False, True])
def test_a_csv_dump_reports_the_same_both_ways(tmp_path: Path, compressed: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    events = [make_event("census"), make_event("census", Email="amos.marble@contoso.com"),
              make_event("usage", client="tablet"), make_event("usage", IMSent=-3),
              make_event("error", ErrorLog="line one\nline two"),  # a record on two lines
              make_event("census", UserLanguage="English (US)")] * 3
    names = list(dict.fromkeys(name for event in events for name in event))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(names)
    writer.writerows([[event.get(name, "") for name in names] for event in events])
    raw = out.getvalue().encode("utf-8") + b"census,too,short\n"
    path = tmp_path / ("events.csv.gz" if compressed else "events.csv")
    path.write_bytes(gzip.compress(raw) if compressed else raw)

    def report() -> dict[str, Any]:
        doc = audit.scan(inputs=str(path), ledger=str(LEDGER), identities=str(DIRECTORY),
                         chunk_rows=4, quiet=True).to_dict()
        for key in ("started", "finished", "duration_seconds"):
            doc["run"].pop(key)
        return doc

    fast = report()
    with monkeypatch.context() as patched:
        _python_csv(patched)
        assert report() == fast
    rules = {f["rule"] for f in fast["findings"]}
    assert {"census/identifies-user", "usage/schema-violation",
            "input/malformed-record"} <= rules
