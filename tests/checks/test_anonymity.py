"""census/re-identification-risk: k per class of census quasi-identifiers, checked
against pycanon's k-anonymity on generated tables, and the rule on scans."""

from __future__ import annotations

import os
import random
import re
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_event, write_jsonl

import audit
from audit.checks.anonymity import collect_classes, finish_classes, merge_classes
from audit.context import ScanContext
from audit.model import Stage, Status
from audit.rulepack import load

RULE_ID = "census/re-identification-risk"
PACK = load()
RULE = PACK.rules[RULE_ID]
CTX = ScanContext(stage=Stage.TRANSIT, key=b"test", rulepack=PACK)
QIS = ["AppName", "DeviceModel", "OSName", "OSVersion", "UserLanguage"]
K = 5  # the built-in pack's k
VALUES = {
    "AppName": ["iPhoneSkype", "AndroidSkype", "DesktopLync"],
    "DeviceModel": ["iPhone", "Pixel 8", "Surface Pro"],
    "OSName": ["iPhoneiOS", "Android"],
    "OSVersion": ["8.3", "9.1", "10.0.19045"],
    "UserLanguage": ["EN-US", "DE-DE"],
}


def pycanon() -> Any:
    """pycanon's anonymity module: CI installs it (the README's test command); a machine
    without it skips these comparisons, CI fails instead."""
    if os.environ.get("CI"):
        from pycanon import anonymity
    else:
        anonymity = pytest.importorskip("pycanon.anonymity")
    return anonymity


def _device(rng: random.Random) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4)).upper()


def _table(seed: int, devices: int) -> pd.DataFrame:
    """One census record per device, with quasi-identifier values drawn from small sets
    weighted so that classes of every size from 1 up appear."""
    rng = random.Random(seed)
    rows = []
    for _ in range(devices):
        row = {name: rng.choices(vals, weights=[8, 2, 1][: len(vals)])[0]
               for name, vals in VALUES.items()}
        rows.append(row | {"DeviceID": _device(rng)})
    return pd.DataFrame(rows)


def _our_classes(table: pd.DataFrame) -> tuple[list[int], Any]:
    """Our k of each record's class (one record per device), from collect and merge in
    chunks of 37 rows."""
    parts = []
    for start in range(0, len(table), 37):
        chunk = table.iloc[start:start + 37]
        meta = pd.DataFrame({"source": "t.jsonl", "line": chunk.index + 1}, index=chunk.index)
        parts.append(collect_classes(RULE, chunk, meta, CTX)[1])
    state = merge_classes(parts)
    sizes = pd.Series(state.pair_class).value_counts()
    keys = {key: i for i, key in enumerate(state.classes.tolist())}
    # Built in Python: numpy's fixed-width strings (pandas 2 adds a str that way) drop a
    # trailing NUL, the mark of an absent field.
    joined = ["\x1f".join([*map(str, row), "\x00", "\x00"])
              for row in table[QIS].itertuples(index=False)]
    return [int(sizes[keys[key]]) for key in joined], state


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_k_per_record_matches_pycanon(seed: int) -> None:
    anonymity = pycanon()
    from pycanon.anonymity.utils.aux_anonymity import get_equiv_class

    table = _table(seed, 300)
    ours, _ = _our_classes(table)
    theirs = [0] * len(table)
    for members in get_equiv_class(table, QIS):
        for i in members.tolist():
            theirs[i] = len(members)
    assert ours == theirs
    assert min(ours) == anonymity.k_anonymity(table, QIS)


def test_scan_reports_exactly_pycanons_small_classes(tmp_path: Path) -> None:
    pycanon()
    from pycanon.anonymity.utils.aux_anonymity import get_equiv_class

    table = _table(7, 200)
    events = [make_event("census", **row) for row in table.to_dict("records")]
    dump = write_jsonl(tmp_path / "census.jsonl", events)
    report = audit.scan(inputs=str(dump), chunk_rows=64, jobs=1)
    found = {f.line: f for f in report.findings if f.rule == RULE_ID}
    small = [sorted((m + 1).tolist()) for m in get_equiv_class(table, QIS) if len(m) < K]
    assert small and sorted(found) == sorted(lines[0] for lines in small)
    for lines in small:
        explanation = found[lines[0]].explanation
        assert explanation.startswith(f"k={len(lines)}: ")
        assert f"lines {', '.join(map(str, lines))}" in explanation
    summary = report.extras["reidentification"][0]
    assert summary["devices"] == 200 and summary["classes_below_k"] == len(small)
    assert summary["devices_below_k"] == sum(len(lines) for lines in small)


def test_masked_values_are_not_in_the_finding(tmp_path: Path) -> None:
    rng = random.Random(5)
    events = [make_event("census", DeviceID=_device(rng)) for _ in range(60)]
    events.append(make_event("census", DeviceID=_device(rng), DeviceModel="Amos Marble's Mac",
                             tenant="contoso.com"))
    dump = write_jsonl(tmp_path / "census.jsonl", events)
    report = audit.scan(inputs=str(dump), jobs=1)
    found = [f for f in report.findings if f.rule == RULE_ID]
    assert [f.line for f in found] == [61]
    text = found[0].explanation + found[0].message + (found[0].evidence or "")
    assert "Amos" not in text and "contoso" not in text
    assert "AppName=iPhoneSkype" in text and "TimeZone=(absent)" in text
    assert re.search(r"DeviceModel=Am•••ac#[0-9a-f]{6}", text)


def test_too_few_devices_is_not_applicable_with_its_histogram(tmp_path: Path) -> None:
    rng = random.Random(6)
    events = [make_event("census", DeviceID=_device(rng)) for _ in range(10)]
    report = audit.scan(inputs=str(write_jsonl(tmp_path / "c.jsonl", events)), jobs=1)
    outcome = next(o for o in report.outcomes if o.rule == RULE_ID)
    assert outcome.status is Status.NOT_APPLICABLE and "from 50 census devices" in outcome.reason
    summary = report.extras["reidentification"][0]
    assert summary["assessed"] is False and summary["devices"] == 10
    assert summary["histogram"][-1] == {"k_min": 10, "k_max": 19, "classes": 1,
                                        "devices_in_classes": 10, "below_k": False}
    assert sum(b["classes"] for b in summary["histogram"]) == 1


def test_a_device_counts_once_per_class_however_many_records() -> None:
    rng = random.Random(8)
    devices = [_device(rng) for _ in range(3)]
    table = pd.DataFrame([{**{n: VALUES[n][0] for n in QIS}, "DeviceID": devices[i % 3]}
                          for i in range(30)])
    ours, state = _our_classes(table)
    assert set(ours) == {3}
    rule = replace(RULE, params={**RULE.params, "min_devices": 1})
    hits, summary = finish_classes(rule, [state], CTX)
    assert summary["reidentification"][0]["devices_below_k"] == 3
    assert len(hits) == 1 and hits["line"].tolist() == [1]
    assert hits["explanation"].iloc[0].endswith("and 20 more")


@st.composite
def censuses(draw: Any) -> tuple[list[dict[str, Any]], list[int], int, int]:
    """Devices in classes of at least K (so nothing to report), then ``m`` < K devices
    given a class of their own at random places: the events, the lines of those, m and
    a chunk size."""
    rng = random.Random(draw(st.integers(0, 1 << 30)))
    classes = draw(st.integers(min_value=2, max_value=6))
    events = []
    for c in range(classes):
        for _ in range(draw(st.integers(min_value=K, max_value=K + 8))):
            device = _device(rng)
            events.extend(make_event("census", DeviceID=device, OSVersion=f"10.{c}")
                          for _ in range(draw(st.integers(min_value=1, max_value=2))))
    # At least min_devices devices: fillers in the base class (8.3), never fewer than K.
    events.extend(make_event("census", DeviceID=_device(rng))
                  for _ in range(max(K, 50 - len({e["DeviceID"] for e in events}))))
    m = draw(st.integers(min_value=1, max_value=K - 1))
    at = sorted(draw(st.sets(st.integers(0, len(events)), min_size=m, max_size=m)))
    for shift, i in enumerate(at):
        events.insert(i + shift, make_event("census", DeviceID=_device(rng),
                                            UserLanguage="FR-CA", OSVersion="11.0"))
    lines = [i + shift + 1 for shift, i in enumerate(at)]
    return events, lines, m, draw(st.integers(min_value=1, max_value=len(events)))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(censuses())
def test_an_injected_small_class_is_the_only_finding(tmp_path_factory: Any, case: Any) -> None:
    events, lines, m, chunk_rows = case
    dump = write_jsonl(tmp_path_factory.mktemp("k") / "census.jsonl", events)
    report = audit.scan(inputs=str(dump), chunk_rows=chunk_rows, jobs=1)
    found = [f for f in report.findings if f.rule == RULE_ID]
    assert [f.line for f in found] == [lines[0]]
    assert found[0].explanation.startswith(f"k={m}: ")
    assert f"lines {', '.join(map(str, lines))}" in found[0].explanation
    clean = [e for e in events if e["OSVersion"] != "11.0"]
    again = audit.scan(inputs=str(write_jsonl(tmp_path_factory.mktemp("k") / "c.jsonl", clean)),
                       chunk_rows=chunk_rows, jobs=1)
    assert not [f for f in again.findings if f.rule == RULE_ID]
