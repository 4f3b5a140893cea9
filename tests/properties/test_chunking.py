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
