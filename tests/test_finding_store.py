"""Findings spilled to disk give exactly the report kept in memory, and nothing is left behind."""

from __future__ import annotations

import copy
import gc
import json
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import DIRECTORY, LEDGER, SAMPLE

import audit
from audit import finding_store, parallel
from audit.baseline import create_baseline, dump_baseline
from audit.errors import AuditError
from audit.finding_store import FindingStore, RunWriter, ScratchDir, from_batch, to_batch
from audit.model import BaselineStatus, Finding, Severity


def _without_times(report: audit.Report) -> dict[str, Any]:
    doc = copy.deepcopy(report.to_dict())
    for key in ("started", "finished", "duration_seconds"):
        doc["run"].pop(key)
    doc["run"]["parameters"].pop("jobs")
    return doc


@pytest.fixture
def tiny_spill(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spill after a handful of findings, in batches of three."""
    monkeypatch.setattr(finding_store, "SPILL_AFTER", 4)
    monkeypatch.setattr(finding_store, "BATCH_ROWS", 3)


def test_spilled_scan_equals_the_scan_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    kwargs: dict[str, Any] = {"inputs": [str(SAMPLE), str(SAMPLE.with_name("clean.jsonl"))],
                              "ledger": str(LEDGER), "identities": str(DIRECTORY),
                              "chunk_rows": 37}
    first = audit.scan(**kwargs)
    accepted = create_baseline(
        {"findings": [f.to_dict() for f in first.findings][:5]}, reason="triaged",
        owner="privacy", expires=(date.today() + timedelta(days=30)).isoformat())
    baseline = tmp_path / "baseline.json"
    baseline.write_text(dump_baseline(accepted), "utf-8")
    kwargs["baseline"] = str(baseline)
    in_memory = audit.scan(**kwargs)
    assert not in_memory.findings.spilled  # type: ignore[attr-defined]

    monkeypatch.setattr(finding_store, "SPILL_AFTER", 4)
    monkeypatch.setattr(finding_store, "BATCH_ROWS", 3)
    spilled = audit.scan(**kwargs)
    assert spilled.findings.spilled  # type: ignore[attr-defined]
    assert _without_times(spilled) == _without_times(in_memory)
    assert spilled.summary.suppressed == 5
    # Cut into parts scanned by three processes, each spilling its own runs: the same.
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    parted = audit.scan(**kwargs, jobs=3)
    assert _without_times(parted) == _without_times(in_memory)


def test_scratch_folder_holds_only_the_store_and_goes_with_it(tiny_spill: None) -> None:
    report = audit.scan(inputs=str(SAMPLE), ledger=str(LEDGER), chunk_rows=50)
    store = report.findings
    assert isinstance(store, FindingStore) and store.spilled
    folder = Path(store._run.path).parent  # type: ignore[arg-type]
    assert [p.suffix for p in folder.iterdir()] == [".arrow"]  # the runs are gone
    del report, store
    gc.collect()
    assert not folder.exists()


def test_a_failed_scan_leaves_no_scratch_folder(tiny_spill: None, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    original = ScratchDir.__init__

    def remember(self: ScratchDir) -> None:
        original(self)
        made.append(self.path)

    monkeypatch.setattr(ScratchDir, "__init__", remember)
    baseline = tmp_path / "broken.json"
    baseline.write_text("{", "utf-8")
    with pytest.raises(AuditError):
        audit.scan(inputs=str(SAMPLE), ledger=str(LEDGER), baseline=str(baseline))
    assert made and not any(os.path.exists(p) for p in made)


def _finding(i: int, **overrides: Any) -> Finding:
    values: dict[str, Any] = {
        "rule": f"census/rule-{i % 3}", "category": "census",
        "severity": list(Severity)[i % 5], "source": "dump.jsonl", "line": i + 1,
        "field": None if i % 4 == 0 else f"Field{i}", "message": "m ✓",
        "evidence": None if i % 2 else f"e…{i}", "fingerprint": f"{i:064x}",
        "detector": None if i % 3 else "email", "explanation": "why",
        "baseline": list(BaselineStatus)[i % 3]}
    values.update(overrides)
    return Finding(**values)


@pytest.mark.parametrize("spill_after", [4, 1_000])
def test_store_is_a_sequence(spill_after: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finding_store, "SPILL_AFTER", spill_after)
    monkeypatch.setattr(finding_store, "BATCH_ROWS", 3)
    findings = [_finding(i) for i in range(20)]
    scratch = ScratchDir()
    writer = RunWriter(scratch.path)
    for f in findings:
        writer.add_batch(to_batch([f]))
    store = FindingStore(writer.close(), scratch)
    assert store.spilled is (spill_after < 20)
    assert len(store) == 20 and list(store) == findings
    assert store == findings and store == tuple(findings) and store != findings[:-1]
    assert store[0] == findings[0] and store[7] == findings[7] and store[-1] == findings[-1]
    assert store[5:11] == findings[5:11] and store[::-4] == findings[::-4]
    with pytest.raises(IndexError):
        store[20]
    assert json.dumps([f.to_dict() for f in store]) == json.dumps([f.to_dict() for f in findings])


optional_text = st.none() | st.text(max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.builds(
    Finding, rule=st.text(min_size=1, max_size=20), category=st.sampled_from(
        ["census", "usage", "error"]), severity=st.sampled_from(list(Severity)),
    source=st.text(min_size=1, max_size=30), line=st.integers(0, 2**62),
    field=optional_text, message=st.text(max_size=80), evidence=optional_text,
    fingerprint=st.text(min_size=1, max_size=64), detector=optional_text,
    explanation=optional_text, baseline=st.sampled_from(list(BaselineStatus))), max_size=12))
def test_arrow_round_trip_keeps_every_field(findings: list[Finding]) -> None:
    assert from_batch(to_batch(findings)) == findings


def test_unusable_scratch_folder_is_exit_2_naming_it(run_cli, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such-tmp"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))
    result = run_cli("scan", str(SAMPLE), "--format", "json")
    assert result.code == 2 and "Traceback" not in result.err
    assert f"{missing}: cannot keep findings in the scratch folder" in result.err


def test_full_disk_while_spilling_is_exit_2(run_cli, tiny_spill: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: object, batch: object) -> None:
        raise OSError(28, "No space left on device")

    import pyarrow.ipc

    monkeypatch.setattr(pyarrow.ipc, "new_file", lambda *args: type(
        "Sink", (), {"write_batch": full, "close": lambda self: None})())
    result = run_cli("scan", str(SAMPLE), "--format", "json")
    assert result.code == 2 and "Traceback" not in result.err
    assert "cannot keep findings in the scratch folder: No space left on device" in result.err


_keys = st.tuples(st.integers(1, 6), st.sampled_from(["census/a", "census/b", "usage/é"]),
                  st.sampled_from([None, "", "DeviceID", "Zoë"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_keys, max_size=25), st.lists(_keys, max_size=6), st.integers(1, 7),
       st.booleans())
def test_late_findings_merge_as_heapq_merge_would(rows: list, late: list, size: int,
                                                  ordered: bool) -> None:
    """Late findings merge into the batches (in report order, or not quite: records that
    share a line across chunks) exactly where heapq.merge puts them."""
    import heapq

    from audit.finding_store import merge_late, report_order

    def made(keys: list, tag: str, ordered: bool = True) -> list[Finding]:
        made = [_finding(i, line=k[0], rule=k[1], field=k[2], message=tag)
                for i, k in enumerate(keys)]
        return sorted(made, key=report_order) if ordered else made

    found, extra = made(rows, "chunk", ordered), made(late, "late")
    batches = [to_batch(found[i:i + size]) for i in range(0, len(found), size)]
    merged = [f for b in merge_late(batches, extra) for f in from_batch(b)]
    assert merged == list(heapq.merge(found, extra, key=report_order))


def test_baseline_marks_in_arrow_equal_marks_one_by_one() -> None:
    from audit.baseline import apply_baseline, baseline_marks, parse_baseline
    from audit.finding_store import with_marks

    findings = [_finding(i) for i in range(6)]
    today = date(2026, 11, 29)
    entries = [{"rule": f.rule, "fingerprint": f.fingerprint, "reason": "known", "owner": "x",
                "expires": str(today + timedelta(days=d))} for f, d in
               ((findings[1], 3), (findings[4], -1), (findings[4], -9))]
    baseline = parse_baseline({"version": 1, "entries": entries})
    marked = from_batch(with_marks(to_batch(findings), baseline_marks(baseline, today)))
    assert marked == list(apply_baseline(findings, baseline, today))
    assert [f.baseline.value for f in marked] == ["active", "suppressed", "active", "active",
                                                 "expired", "active"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["census/a", "usage/b", "error/c"]),
                          st.sampled_from(list(BaselineStatus)),
                          st.sampled_from(list(Severity))), max_size=40),
       st.integers(0, 5), st.booleans())
def test_report_digests_in_arrow_equal_one_by_one(rows: list, cap: int,
                                                  active_rows: bool) -> None:
    """Counts and first findings per rule, and the most severe findings, read off Arrow
    batches are those of a pass over the findings (what HTML, JUnit and Markdown show)."""
    from audit.finding_store import RuleDigest, digest_by_rule

    findings = [_finding(i, rule=rule, baseline=status, severity=severity, line=i // 3 + 1)
                for i, (rule, status, severity) in enumerate(rows)]  # lines shared: ties
    old_rows = finding_store.BATCH_ROWS
    finding_store.BATCH_ROWS = 3  # several batches
    try:
        writer = RunWriter(None)
        for start in range(0, len(findings), 2):
            writer.add_batch(to_batch(findings[start:start + 2]))
        store = FindingStore(writer.close())
    finally:
        finding_store.BATCH_ROWS = old_rows
    assert len(store._run.sizes) == (len(findings) + 3) // 4 or not findings
    arrow = digest_by_rule(store, cap, active_rows=active_rows)
    plain = digest_by_rule(findings, cap, active_rows=active_rows)
    assert arrow == plain
    assert all(isinstance(d, RuleDigest) for d in arrow.values())
    assert sum(d.total for d in plain.values()) == len(findings)
    # The Markdown report's most severe findings: the same as sorting them all.
    from audit.finding_store import most_severe

    for n in (cap, 25):
        assert most_severe(store, n) == most_severe(findings, n) == sorted(
            (f for f in findings if f.baseline is not BaselineStatus.SUPPRESSED),
            key=lambda f: (-f.severity.rank, f.rule, f.line))[:n]
