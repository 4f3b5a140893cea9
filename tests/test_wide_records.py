"""A record with tens of thousands of keys (allowed by ``--limit keys``) costs time in
proportion to its keys: the schema and content checks work on all undeclared fields at
once, never a frame or a search per field. The full-size case (100,000 keys) is
measured, not asserted: see the timing printed by the first test with ``-s``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from support import make_event

import audit
from audit.checks.content import _as_text, forbidden_content
from audit.checks.schema import declared_fields
from audit.context import ScanContext
from audit.detectors.scan import detect
from audit.limits import DEFAULT_LIMITS
from audit.model import Stage

KEYS = 12_000


def test_a_record_of_many_undeclared_keys_is_audited_whole(tmp_path: Path) -> None:
    wide = make_event("census", DeviceModel="Amos Marble's iPhone")
    wide.update({f"k{n:05d}": f"value {n}" for n in range(KEYS)})
    wide["k00007"] = "write to amos.marble@contoso.com"
    wide["k00008"] = 7
    wide["k00009"] = {"nested": "+1 425 555 0100"}  # k00009.nested
    path = tmp_path / "wide.jsonl"
    path.write_text(json.dumps(wide) + "\n", "utf-8")
    started = time.perf_counter()
    report = audit.scan(inputs=str(path), quiet=True,
                        limits=DEFAULT_LIMITS.with_setting(f"keys={2 * KEYS}"))
    print(f"\n{KEYS:,} undeclared keys in one record: {time.perf_counter() - started:.2f} s")
    undeclared = [f for f in report.findings if f.rule == "census/undeclared-field"]
    assert len(undeclared) == KEYS
    assert {f.field for f in undeclared} == {f"k{n:05d}" for n in range(KEYS) if n != 9} | {
        "k00009.nested"}
    identifies = {(f.field, f.detector) for f in report.findings
                  if f.rule == "census/identifies-user"}
    assert identifies == {("k00007", "EMAIL"), ("k00009.nested", "PHONE"),
                          ("DeviceModel", "PERSON_NAME")}
    assert report.summary.records_audited == 1


def _ctx() -> ScanContext:
    return ScanContext(stage=Stage.TRANSIT, key=b"test", rulepack=audit.load_rule_pack())


def _events() -> pd.DataFrame:
    """Undeclared columns of every dtype a reader gives, with gaps, beside declared ones."""
    events = pd.DataFrame({
        "category": ["census"] * 4,
        "DeviceModel": ["iPhone", "Amos Marble's iPhone", None, "iPad"],
        "OSVersion": ["10.0.2.15", "8.3", "8.3", None],
        "note": ["call +1 425 555 0100", None, "10.0.2.15", "amos@contoso.com"],
        "count": [3, 4, 5, 6],
        "ratio": [1.0, np.nan, 2.5, 12345678901.0],
        "flag": [True, False, True, False],
        "mixed": [["a@b.com"], {"k": "v"}, 5, None],
        "ip": ["10.1.2.3", "10.1.2.3", "fe80::1", None],
        "when": ["2026-03-02T10:00:00Z", None, "n/a", "2026-03-02"],
    }, index=pd.RangeIndex(10, 14))
    events["note"] = events["note"].astype("string[pyarrow]")
    return events


def test_content_of_undeclared_fields_equals_a_search_per_field() -> None:
    """The stacked search finds, per record and field, what a search of each field on
    its own finds (the first entity of the rule's order)."""
    ctx = _ctx()
    rule = ctx.rulepack.rules["census/identifies-user"]
    events = _events()
    got = forbidden_content(rule, events, ctx)
    declared = ctx.rulepack.categories["census"].fields
    entities = [e for e in rule.params["entities"] if e != "KNOWN_IDENTITY"]
    expected = set()
    for column in events.columns:
        if column in declared:
            continue
        found = detect(_as_text(events[column]), entities)
        expected |= {(label, column, row.matched, row.entity, row.explanation)
                     for label, row in found.iterrows()}
    undeclared = got[~got["field"].isin(list(declared))]
    assert set(zip(undeclared.index, undeclared["field"], undeclared["value"],
                   undeclared["detector"], undeclared["explanation"], strict=True)) == expected
    assert {"note", "mixed", "ip"} <= set(undeclared["field"])
    assert ("DeviceModel", "PERSON_NAME") in set(zip(got["field"], got["detector"],
                                                     strict=True))


def test_undeclared_fields_are_one_hit_per_present_value() -> None:
    ctx = _ctx()
    rule = ctx.rulepack.rules["census/undeclared-field"]
    events = _events()
    got = declared_fields(rule, events, ctx)
    declared = ctx.rulepack.categories["census"].fields
    expected = {(label, column, json.dumps(value, default=str))
                for column in events.columns if column not in declared
                for label, value in events[column].dropna().items()}
    assert set(zip(got.index, got["field"],
                   (json.dumps(v, default=str) for v in got["value"]), strict=True)) == expected
    assert set(got["explanation"]) == {"field is not declared"}
