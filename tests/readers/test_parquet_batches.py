"""Parquet batches converted by pyarrow report exactly what reading record by record does."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DIRECTORY, LEDGER, SAMPLE, make_event

import audit
from audit.readers import READERS, read_batches


def _report(path: Path, **kwargs: Any) -> dict[str, Any]:
    doc = audit.scan(inputs=str(path), ledger=str(LEDGER), identities=str(DIRECTORY),
                     quiet=True, **kwargs).to_dict()
    for key in ("started", "finished", "duration_seconds"):
        doc["run"].pop(key)
    return doc


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    batched = _report(path, **kwargs)
    with monkeypatch.context() as patched:
        patched.setitem(READERS, "parquet", dataclasses.replace(READERS["parquet"], batches=None))
        one_by_one = _report(path, **kwargs)
    return batched, one_by_one


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    """Every row's fields (``from_pylist`` alone takes the first row's names only)."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return pa.Table.from_pylist([{name: row.get(name) for name in names} for row in rows])


def _write(path: Path, rows: list[dict[str, Any]], row_group_size: int | None = None) -> Path:
    pq.write_table(_table(rows), path, row_group_size=row_group_size)
    return path


def test_the_sample_as_parquet_reports_the_same_both_ways(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = []
    for line in SAMPLE.read_text("utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # the sample's malformed lines
            continue
        if isinstance(event, dict):
            events.append(event)
    # A Parquet column has one type: where the sample mixes text and numbers, all is text.
    for name in ("SignInAttempts",):
        for event in events:
            if name in event and not isinstance(event[name], str):
                event[name] = json.dumps(event[name])
    path = _write(tmp_path / "sample.parquet", events, row_group_size=7)
    batched, one_by_one = _both_ways(path, monkeypatch, chunk_rows=5)
    assert batched == one_by_one
    assert batched["findings"]


def test_nested_nulls_gaps_and_types_python_must_keep(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = [
        make_event("census", SignInFailures=None),  # an integer with a gap
        make_event("error", crash=None, ext={"user": {"localId": "abc", "tag": None}}),
        make_event("usage", CallMinutes=1.5, ext={"user": None}),
        make_event("census", SignInAttempts=3, Email="amos.marble@contoso.com"),
    ]
    path = _write(tmp_path / "plain.parquet", plain)
    batched, one_by_one = _both_ways(path, monkeypatch, chunk_rows=2)
    assert batched == one_by_one
    fields = {(f["rule"], f["line"], f["field"]) for f in batched["findings"]}
    assert ("error/undeclared-field", 2, "ext.user.localId") in fields
    assert ("census/identifies-user", 4, "Email") in fields

    # A list and a timestamp: those batches are read record by record.
    odd = [make_event("census", Tags=["a", "b"]),
           make_event("usage", seen=datetime(2026, 3, 2, tzinfo=timezone.utc))]
    path = _write(tmp_path / "odd.parquet", odd)
    batched, one_by_one = _both_ways(path, monkeypatch)
    assert batched == one_by_one
    assert {f["field"] for f in batched["findings"]} >= {"Tags", "seen"}


def test_typed_times_read_as_their_iso_text(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A timestamp column with a time zone is a valid date-time, and the consent rules
    read it as the same events in JSON Lines; one without a zone fails the format, as
    its text would."""
    from support import write_jsonl

    # fabrikam.com turned tracing off for April (fixtures/policy.csv).
    events = [make_event("usage", time=f"2026-0{month}-15T10:00:00Z", tenant=tenant)
              for month in (3, 4, 5) for tenant in ("contoso.com", "fabrikam.com")]
    as_text = _report(write_jsonl(tmp_path / "events.jsonl", events))
    table = _table(events)
    stamps = pa.array([datetime.fromisoformat(e["time"]) for e in events],
                      pa.timestamp("us", tz="UTC"))
    typed = table.set_column(table.schema.get_field_index("time"), "time", stamps)
    pq.write_table(typed, tmp_path / "typed.parquet")
    batched, one_by_one = _both_ways(tmp_path / "typed.parquet", monkeypatch)
    assert batched == one_by_one
    assert batched["findings"], "the ledger makes some of these events violations"
    assert [(f["rule"], f["line"], f["field"]) for f in batched["findings"]] == \
        [(f["rule"], f["line"], f["field"]) for f in as_text["findings"]]

    naive = table.set_column(table.schema.get_field_index("time"), "time",
                             stamps.cast(pa.timestamp("us")))
    pq.write_table(naive, tmp_path / "naive.parquet")
    report = _report(tmp_path / "naive.parquet")
    assert {f["explanation"] for f in report["findings"] if f["field"] == "time"} == \
        {"not an ISO 8601 date-time with a time zone"}


def test_batches_keep_their_row_numbers(tmp_path: Path) -> None:
    rows = [make_event("census", SignInAttempts=k) for k in range(23)]
    path = _write(tmp_path / "rows.parquet", rows, row_group_size=6)
    batches = list(read_batches(path, 10))
    assert [len(b.frame) for b in batches] == [10, 10, 3]
    assert [b.lines.tolist() for b in batches][2] == [21, 22, 23]
    assert batches[2].frame["SignInAttempts"].tolist() == [20, 21, 22]


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(max_size=12))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["census", "usage", "error"]),
                          st.dictionaries(st.sampled_from(["SignInAttempts", "IMSent", "crash",
                                                           "OSVersion", "tenant", "Extra"]),
                                          _VALUES, max_size=3)),
                min_size=1, max_size=12),
       st.integers(min_value=1, max_value=5))
def test_generated_columns_report_the_same_both_ways(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        drawn: list[tuple[str, dict[str, Any]]], chunk_rows: int) -> None:
    rows = [make_event(category, **fields) for category, fields in drawn]
    try:
        table = _table(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a column of mixed types: not Parquet
        return
    path = tmp_path / "generated.parquet"
    pq.write_table(table, path)
    batched, one_by_one = _both_ways(path, monkeypatch, chunk_rows=chunk_rows)
    assert batched == one_by_one


def test_row_groups_scanned_in_processes_equal_one_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Parquet file of several row groups is cut into runs of them, one per process,
    each read with its true row numbers."""
    from audit import parallel
    from audit.readers import split

    events = [make_event("census", SignInAttempts=k, DeviceModel=f"Amos Marble's iPhone {k}")
              for k in range(40)] + [make_event("usage", client="tablet")] * 7
    path = _write(tmp_path / "groups.parquet", events, row_group_size=6)
    parts = split(path, 3, 0)
    assert parts is not None and [(p.start, p.first_line) for p in parts] == [
        (0, 1), (3, 19), (6, 37)]
    assert parts[-1].stop == 8
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    one, three = _report(path, jobs=1), _report(path, jobs=3)
    assert three["run"]["parameters"].pop("jobs") == 3
    one["run"]["parameters"].pop("jobs")
    assert three == one
    assert {f["line"] for f in one["findings"]} >= {1, 19, 37, 47}
    assert split(_write(tmp_path / "one.parquet", events), 3, 0) is None  # one row group
