"""Hypothesis: the report does not depend on how the dump is cut into chunks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DIRECTORY, LEDGER, SAMPLE

import audit


def report_without_times(chunk_rows: int) -> dict[str, Any]:
    doc = audit.scan(inputs=str(SAMPLE), ledger=str(LEDGER), identities=str(DIRECTORY),
                     chunk_rows=chunk_rows).to_dict()
    for key in ("started", "finished", "duration_seconds"):
        doc["run"].pop(key)
    doc["run"]["parameters"].pop("chunk_rows")
    doc["run"]["parameters"].pop("jobs")
    return doc


@lru_cache(maxsize=1)
def whole() -> dict[str, Any]:
    return report_without_times(1_000_000)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=400))
def test_same_report_whatever_the_chunk_size(chunk_rows: int) -> None:
    assert report_without_times(chunk_rows) == whole()


def test_sample_report_is_not_trivial() -> None:
    report = whole()
    assert len({f["rule"] for f in report["findings"]}) >= 10
    assert report["consent_timeline"]


_TIMES = st.sampled_from([
    "2026-03-02T10:00:00Z", "2026-03-02T10:00:00.123456789Z", "2026-03-02T10:00:00.5+02:00",
    "3000-01-01T00:00:00Z", "1500-06-01T12:00:00Z", "2026-02-30T10:00:00Z", "2026-03-02",
    "not a time",
])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["census", "usage", "error"]), _TIMES),
                min_size=2, max_size=12),
       st.integers(min_value=1, max_value=5))
def test_times_of_any_precision_and_year_give_the_same_report_in_any_chunks(
        tmp_path_factory: Any, events: list[tuple[str, str]], chunk_rows: int) -> None:
    """pandas parses a column at the precision of its finest time: a nanosecond time must
    not push the year 3000 out of range in one chunk and leave it valid in another."""
    from support import make_event, write_jsonl

    dump = write_jsonl(tmp_path_factory.mktemp("times") / "dump.jsonl",
                       [make_event(category, time=time) for category, time in events])

    def report(rows: int) -> dict[str, Any]:
        doc = audit.scan(inputs=str(dump), ledger=str(LEDGER), chunk_rows=rows,
                         jobs=1).to_dict()
        for key in ("started", "finished", "duration_seconds"):
            doc["run"].pop(key)
        doc["run"]["parameters"].pop("chunk_rows")
        return doc

    assert report(chunk_rows) == report(len(events))
