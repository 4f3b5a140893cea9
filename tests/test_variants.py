"""Variant rows: what each holds, in which order, and frames bounded in cells."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support import make_event

import audit
from audit import checking
from audit.variants import SLACK_CELLS, VariantFrame, variant_frames

CONTEXT = frozenset({"category", "client", "DeviceModel"})
EVENTS = pd.DataFrame({"category": ["census", "census"], "client": ["a", "b"],
                       "DeviceModel": ["iPhone", "iPad"], "cV": ["x", "y"], "k": [1, 2]},
                      index=pd.Index([10, 11]))


def variants(rows: list[tuple[int, str, object]]) -> pd.DataFrame:
    return pd.DataFrame([(field, value) for _, field, value in rows], columns=["field", "value"],
                        index=[label for label, _, _ in rows], dtype=object)


def test_a_context_field_varies_alone_and_other_fields_share_rows() -> None:
    found = variants([(10, "DeviceModel", "m1"), (10, "cV", "c1"), (10, "k", 7),
                      (10, "cV", "c2"), (10, "DeviceModel", "m2"), (11, "cV", "c3")])
    (part,) = list(variant_frames(EVENTS, found, CONTEXT))
    assert part.mains.tolist() == [10, 10, 10, 11, 10]
    assert [sorted(v) for v in part.varied] == [["DeviceModel"], ["DeviceModel"],
                                                 ["cV", "k"], ["cV"], ["cV"]]
    frame = part.frame
    assert frame["DeviceModel"].tolist() == ["m1", "m2", "iPhone", "iPad", "iPhone"]
    assert frame["client"].tolist() == ["a", "a", "a", "b", "a"]  # the record's context
    assert frame["cV"].tolist() == [None, None, "c1", "c3", "c2"]  # only where varied
    assert frame["k"].tolist() == [None, None, 7, None, None]


def test_frames_stay_within_about_twice_their_values() -> None:
    """One key given 3,000 times beside 1,000 keys given twice: not a frame of 3,000 rows
    by 1,000 columns."""
    rows = [(10, "x", i) for i in range(3000)] + [(10, f"k{i}", i) for i in range(1000)]
    parts = list(variant_frames(EVENTS, variants(rows), CONTEXT))
    assert sum(len(p.frame) for p in parts) == 3000
    values = len(rows) + 3000 * len([c for c in EVENTS.columns if c in CONTEXT])
    assert sum(p.frame.size for p in parts) <= 2 * values + len(parts) * SLACK_CELLS
    assert len(parts) == 2  # the row of every key given twice, then the rows of x


def test_records_with_keys_of_their_own_cost_about_what_they_hold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each record repeats a key no other has: audited with both values, in frames of
    about the cells their rows hold, not one of records x keys."""
    sizes: list[tuple[int, int]] = []

    def recorded(*args: Any) -> Iterator[VariantFrame]:
        for part in variant_frames(*args):
            sizes.append(part.frame.shape)
            yield part

    monkeypatch.setattr(checking, "variant_frames", recorded)
    head = json.dumps(make_event("census"))[:-1]
    lines = [head + f', "k{i}": "a", "k{i}": "amos.marble@contoso.com"}}' for i in range(3000)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    report = audit.scan(inputs=str(path), jobs=1)
    counts = report.summary.findings_by_rule
    assert counts["input/duplicate-key"] == counts["census/identifies-user"] == 3000
    assert counts["census/undeclared-field"] == 3000
    assert sum(rows for rows, _ in sizes) == 3000
    held = 3000 * (len(make_event("census")) + 1)  # each row: its context and one value
    assert sum(rows * columns for rows, columns in sizes) <= 2 * held + len(sizes) * SLACK_CELLS
    assert len(sizes) < 3000 // 100  # and not a frame per row either
