"""Reading ahead in a thread changes nothing a scan reports, only when the reading happens."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import DIRECTORY, LEDGER, SAMPLE

from audit.engine import prepare
from audit.errors import InputError
from audit.options import ScanOptions
from audit.readers.ahead import read_ahead
from audit.rule_states import initial_states
from audit.units import scan_file


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "read-ahead"]


def _source(items: list[int], fail_at: int | None, closed: list[str]) -> Iterator[int]:
    try:
        for k, item in enumerate(items):
            if k == fail_at:
                raise ValueError(f"bad item {k}")
            yield item
    finally:
        closed.append("closed")


@given(st.lists(st.integers(), max_size=30), st.integers(min_value=1, max_value=4),
       st.one_of(st.none(), st.integers(min_value=0, max_value=30)))
def test_same_items_and_the_same_error_at_the_same_place(
        items: list[int], depth: int, fail_at: int | None) -> None:
    def consume(source: Iterator[int]) -> tuple[list[int], str | None]:
        got: list[int] = []
        try:
            got.extend(source)  # keeps the items before an error
        except ValueError as exc:
            return got, str(exc)
        return got, None

    closed: list[str] = []
    plain = consume(_source(items, fail_at, closed))
    ahead = consume(read_ahead(_source(items, fail_at, closed), depth))
    assert ahead == plain
    assert closed == ["closed", "closed"]
    assert not _threads()


def test_leaving_early_stops_the_reader_and_closes_its_source() -> None:
    closed: list[str] = []
    produced: list[int] = []

    def endless() -> Iterator[int]:
        try:
            k = 0
            while True:
                produced.append(k)
                yield k
                k += 1
        finally:
            closed.append("closed")

    ahead = read_ahead(endless(), depth=2)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert closed == ["closed"]
    assert not _threads()
    assert len(produced) <= 3 + 2  # never more than depth items ahead of the caller


def test_an_error_of_the_check_stops_the_reader() -> None:
    closed: list[str] = []
    with pytest.raises(RuntimeError, match="check failed"):
        for item in read_ahead(_source(list(range(100)), None, closed)):
            if item == 5:
                raise RuntimeError("check failed")
    assert closed == ["closed"]
    assert not _threads()


def _scanned(path: Path, ahead: bool) -> tuple[object, ...]:
    ctx = prepare(ScanOptions(inputs=(str(path),), ledger=str(LEDGER),
                              identities=str(DIRECTORY)))
    result = scan_file(path, ctx, initial_states(ctx), 7, ahead=ahead)
    findings = [row for run in result.runs for batch in run.iter_batches()
                for row in batch.to_pylist()]
    assert findings
    return result.inputs, findings, {k: (s.status, s.rows_seen) for k, s in result.states.items()}


def test_a_scan_reading_ahead_finds_the_same(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    lines = SAMPLE.read_text("utf-8").splitlines()
    lines[3] = "{not json"
    dump.write_text("\n".join(lines) + "\n", "utf-8")
    assert _scanned(dump, True) == _scanned(dump, False)


def test_a_read_error_is_raised_the_same_way(tmp_path: Path) -> None:
    broken = tmp_path / "dump.jsonl.gz"
    broken.write_bytes(gzip.compress(SAMPLE.read_bytes() * 20)[:-40])
    errors = []
    for ahead in (False, True):
        with pytest.raises(InputError) as err:
            _scanned(broken, ahead)
        errors.append(str(err.value))
    assert errors[0] == errors[1] and "dump.jsonl.gz" in errors[0]
    assert not _threads()
