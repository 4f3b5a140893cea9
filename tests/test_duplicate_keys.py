"""Records that repeat a key are audited with every value, not rejected.

Real Windows Census events give ``cV`` twice. Such a record keeps the last value of each
dotted path in its row (what most JSON consumers keep), every other value is checked in a
variant of the row, an ``input/duplicate-key`` finding (low) names each repeated key, and
the record counts once: read = audited + rejected, and no finding appears twice.
"""

from __future__ import annotations

import io
import json
import pickle
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_event

import audit
from audit import chunks, parallel
from audit.normalize import DuplicateKey, flatten, flatten_all
from audit.readers import Repeated, StrictJSON, batch_of, json_array, jsonl, read_batches
from audit.renderers.json import report_schema

DUPLICATE = "input/duplicate-key"
IDENTIFIES = "census/identifies-user"
GOOD = make_event("census")
NAME = "Amos Marble's iPhone"
EMAIL = "amos.marble@contoso.com"


def repeat(event: dict[str, Any], key: str, *values: Any) -> str:
    """The event as JSON text with ``key`` given once per value, in order, at the end."""
    text = json.dumps({k: v for k, v in event.items() if k != key})[:-1]
    return text + "".join(f", {json.dumps(key)}: {json.dumps(v)}" for v in values) + "}"


def found(report: audit.Report) -> list[tuple[int, str, str | None]]:
    return [(f.line, f.rule, f.field) for f in report.findings]


def write(path: Path, lines: list[str]) -> Path:
    if path.suffix == ".json":
        path.write_text("[" + ",\n".join(lines) + "]", "utf-8")
    else:
        path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture(params=["gathered", "streamed"])
def read_as(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Small inputs are read record by record and gathered; large ones are streamed (JSON
    Lines by pyarrow's reader): both ways, for every test that takes this fixture."""
    if request.param == "streamed":
        monkeypatch.setattr(chunks, "SMALL_FILE_BYTES", -1)
    return str(request.param)


# -- the value that violates is named ------------------------------------------------------

@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
@pytest.mark.parametrize("values", [("iPhone", NAME), (NAME, "iPhone")],
                         ids=["violating-last", "violating-first"])
def test_each_value_of_a_repeated_key_is_audited(tmp_path: Path, read_as: str, suffix: str,
                                                 values: tuple[str, str]) -> None:
    path = write(tmp_path / f"events{suffix}",
                 [json.dumps(GOOD), repeat(GOOD, "DeviceModel", *values), json.dumps(GOOD)])
    report = audit.scan(inputs=str(path), show_evidence=True)
    assert found(report) == [(2, IDENTIFIES, "DeviceModel"), (2, DUPLICATE, "DeviceModel")]
    named, noted = report.findings
    assert named.evidence == NAME
    assert noted.severity.value == "low" and noted.detector == "reader"
    assert noted.explanation == "2 values, each audited"
    assert noted.message == "record repeats key DeviceModel: 2 values, each audited"
    assert noted.evidence == json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    s = report.summary
    assert (s.records_read, s.records_audited, s.records_rejected) == (3, 3, 0)
    assert s.verdict.value == "fail"  # the name (high), not the repeat


def test_duplicate_key_evidence_is_masked(tmp_path: Path) -> None:
    path = write(tmp_path / "events.jsonl", [repeat(GOOD, "DeviceModel", "iPhone", NAME)])
    noted = [f for f in audit.scan(inputs=str(path)).findings if f.rule == DUPLICATE]
    assert len(noted) == 1 and noted[0].evidence is not None
    assert "Marble" not in noted[0].evidence and "iPhone" not in noted[0].evidence


def test_a_repeat_of_clean_values_is_low_and_passes(run_cli: Any, tmp_path: Path) -> None:
    """A finding, not a rejection: the record is audited, the verdict is not INCOMPLETE,
    and with the default --fail-on high the scan passes."""
    path = write(tmp_path / "events.jsonl", [json.dumps(GOOD),
                                             repeat(GOOD, "DeviceModel", "iPad", "iPhone"),
                                             repeat(GOOD, "OSVersion", "8.3", "8.3", "17.2")])
    result = run_cli("scan", str(path), "--format", "json,html,sarif,junit,md")
    assert result.code == 0, result.out + result.err
    doc = result.report
    jsonschema.Draft202012Validator(report_schema()).validate(doc)
    sarif = json.loads((result.out_dir / "report.sarif").read_text("utf-8"))
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == [DUPLICATE, DUPLICATE]
    assert "input/duplicate-key" in (result.out_dir / "report.junit.xml").read_text("utf-8")
    assert [(f["line"], f["rule"], f["field"], f["explanation"]) for f in doc["findings"]] == [
        (2, DUPLICATE, "DeviceModel", "2 values, each audited"),
        (3, DUPLICATE, "OSVersion", "3 values, each audited")]
    assert doc["summary"]["verdict"] == "pass" and doc["summary"]["incomplete"] == []
    assert doc["summary"]["records_audited"] == 3 and doc["summary"]["records_rejected"] == 0
    outcome = next(o for o in doc["outcomes"] if o["rule"] == DUPLICATE)
    assert outcome["status"] == "failed" and outcome["severity"] == "low"
    assert run_cli("scan", str(path), "--fail-on", "low", "--format", "json").code == 1


# -- every read path ------------------------------------------------------------------------

def test_nested_repeats_and_names_that_collide(tmp_path: Path, read_as: str) -> None:
    """A key repeated at depth, a dotted name beside the object it flattens to, an object
    given twice: each path with two values is audited with both, named once."""
    head, email = json.dumps(GOOD)[:-1], json.dumps(EMAIL)
    lines = [
        head + f', "ext": {{"user": {{"localId": "abc", "localId": {email}}}}}}}',
        head + f', "a.b": "x", "a": {{"b": {email}}}}}',
        head + f', "ext": {{"id": {email}, "os": "x"}}, "ext": {{"id": "y"}}}}',
    ]
    report = audit.scan(inputs=str(write(tmp_path / "events.jsonl", lines)),
                        show_evidence=True)
    assert [(f.line, f.rule, f.field, f.evidence) for f in report.findings
            if f.rule != "census/undeclared-field"] == [
        (1, IDENTIFIES, "ext.user.localId", EMAIL),
        (1, DUPLICATE, "ext.user.localId", f'["abc","{EMAIL}"]'),
        (2, IDENTIFIES, "a.b", EMAIL),
        (2, DUPLICATE, "a.b", f'["x","{EMAIL}"]'),
        (3, IDENTIFIES, "ext.id", EMAIL),
        (3, DUPLICATE, "ext", f'[{{"id":"{EMAIL}","os":"x"}},{{"id":"y"}}]'),
    ]
    undeclared = Counter((f.line, f.field) for f in report.findings
                         if f.rule == "census/undeclared-field")
    assert undeclared == Counter({(1, "ext.user.localId"): 1, (2, "a.b"): 1,
                                  (3, "ext.id"): 1, (3, "ext.os"): 1})


def test_a_mapped_field_is_audited_with_each_value(tmp_path: Path, read_as: str) -> None:
    """Through a field mapping the value is checked under its reference name; the repeat
    is named by the key the record gives, and an ignored key is not audited."""
    from support import FIXTURES

    first = (FIXTURES / "dumps" / "common-schema.jsonl").read_text("utf-8").splitlines()[0]
    model = first.replace('"model": "iPhone"', f'"model": {json.dumps(NAME)}, "model": "iPad"')
    ignored = first.replace('"ver": "4.0"', f'"ver": {json.dumps(EMAIL)}, "ver": "4.0"')
    assert model != first and ignored != first
    path = write(tmp_path / "events.jsonl", [first, model, ignored])
    report = audit.scan(inputs=str(path), show_evidence=True,
                        mapping=str(FIXTURES / "mappings" / "common-schema.yaml"))
    assert [(f.line, f.rule, f.field, f.evidence) for f in report.findings] == [
        (2, IDENTIFIES, "DeviceModel", NAME),
        (2, DUPLICATE, "ext.device.model", f'["{NAME}","iPad"]'),
        (3, DUPLICATE, "ver", f'["{EMAIL}","4.0"]')]


def test_pyarrow_path_hands_a_repeating_line_to_python(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """pyarrow refuses a line that repeats a key and takes names that collide once
    flattened; either way that batch is read by Python, which keeps every value; batches
    without a repeat stay pyarrow's, and carry nothing for repeats."""
    parsed: list[int] = []
    arrow_table = jsonl._arrow_table

    def counted(chunk: bytes, rows: int, fields: frozenset[str]) -> Any:
        parsed.append(rows)
        return arrow_table(chunk, rows, fields)

    monkeypatch.setattr(jsonl, "_arrow_table", counted)
    good = json.dumps(GOOD)
    lines = [good] * 4 + [good, repeat(GOOD, "DeviceModel", "iPad", "iPhone"), good, good] \
        + [good, good, good[:-1] + ', "a.b": 1, "a": {"b": 2}}', good] + [good] * 4
    data = ("\n".join(lines) + "\n").encode()
    batches = list(jsonl.read_batches(io.BytesIO(data), 4, frozenset({"time"})))
    assert parsed and [b.lines.tolist() for b in batches] == [
        [1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
    assert batches[0].repeats is None and batches[3].repeats is None
    first, second = batches[1].repeats, batches[2].repeats
    assert first is not None and second is not None
    assert [tuple(k) for k in first.keys] == [(1, "DeviceModel", 2, '["iPad","iPhone"]')]
    assert [tuple(v) for v in first.variants] == [(1, "DeviceModel", "iPad")]
    assert batches[1].frame["DeviceModel"].tolist() == ["iPhone"] * 4
    assert [tuple(k) for k in second.keys] == [(2, "a.b", 2, "[1,2]")]
    assert [tuple(v) for v in second.variants] == [(2, "a.b", 1)]
    assert batches[2].frame["a.b"].tolist()[2] == 2
    assert all(not b.rejected for b in batches)


def test_python_path_and_json_array_keep_every_value() -> None:
    line = repeat(GOOD, "UserID", "E296D735-4F36-4E18-7C3B-52E1A02A0164", EMAIL)
    record = jsonl.parse_line(7, line.encode())
    assert record.error is None and isinstance(record.data, Repeated)
    assert record.data["UserID"] == EMAIL
    assert [v for k, v in record.data.pairs if k == "UserID"] == [
        "E296D735-4F36-4E18-7C3B-52E1A02A0164", EMAIL]
    elements = list(json_array.read(io.BytesIO(f"[{line}, {json.dumps(GOOD)}]".encode())))
    assert [e.error for e in elements] == [None, None]
    assert elements[0].data == record.data and isinstance(elements[0].data, Repeated)
    batch = batch_of([record])
    assert batch.repeats is not None and len(batch.frame) == 1 and batch.lines.tolist() == [7]
    assert [tuple(v) for v in batch.repeats.variants] == [
        (0, "UserID", "E296D735-4F36-4E18-7C3B-52E1A02A0164")]


def test_strict_json_keeps_repeats_only_when_asked() -> None:
    text = '{"a": 1, "b": {"c": 2, "c": 3}, "a": 4}'
    assert StrictJSON().loads(text)[1] == "duplicate key 'c'"
    value, problem = StrictJSON(repeats=True).loads(text)
    assert problem is None and value == {"a": 4, "b": {"c": 3}}
    assert isinstance(value, Repeated) and isinstance(value["b"], Repeated)
    assert value.pairs == (("a", 1), ("b", {"c": 3}), ("a", 4))
    assert pickle.loads(pickle.dumps(value)).pairs == value.pairs
    with pytest.raises(DuplicateKey):
        flatten(value)
    flat = flatten_all(value)
    assert flat.row == {"a": 4, "b.c": 3} and flat.given == 4
    assert flat.keys == (("a", 2, "[1,4]"), ("b.c", 2, "[2,3]"))
    assert flat.others == (("a", 1), ("b.c", 2))


def test_flatten_all_names_a_repeat_once_and_skips_equal_values() -> None:
    value, _ = StrictJSON(repeats=True).loads(
        '{"x": 1, "x": 1, "x": true, "x": 1.0, "n": null, "n": "v", "o": {}, "o": {}}')
    flat = flatten_all(value)
    assert flat.row == {"x": 1.0, "n": "v"}
    assert flat.keys == (("x", 4, "[1,1,true,1.0]"), ("n", 2, '[null,"v"]'),
                         ("o", 2, "[{},{}]"))
    assert flat.others == (("x", 1), ("x", True))  # 1 once; true and 1.0 are not 1


def test_parquet_row_with_two_values_under_one_name(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    struct = pa.struct([("DeviceModel", pa.string())])
    table = pa.table({"category": ["census"] * 2, "time": ["2026-03-02T10:00:00Z"] * 2,
                      "d": pa.array([{"DeviceModel": NAME}, {"DeviceModel": None}], struct),
                      "d.DeviceModel": ["iPhone", "iPad"]})
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    report = audit.scan(inputs=str(path), show_evidence=True)
    assert [(f.line, f.rule, f.field, f.evidence) for f in report.findings
            if f.rule in (IDENTIFIES, DUPLICATE)] == [
        (1, IDENTIFIES, "d.DeviceModel", NAME),
        (1, DUPLICATE, "d.DeviceModel", f'["{NAME}","iPhone"]')]
    batches = list(read_batches(path, 10))
    assert [len(b.frame) for b in batches] == [2] and not batches[0].rejected


# -- counts and findings once ---------------------------------------------------------------

def test_records_are_counted_once_and_findings_are_not_repeated(tmp_path: Path,
                                                                 read_as: str) -> None:
    """Three values, the two others than the record keeps violating: one finding (the
    first of them); a violation elsewhere in the record, and an undeclared repeated key:
    once each."""
    three = repeat(make_event("census", UserID=EMAIL), "DeviceModel", NAME,
                   "Bob Smith's iPhone", "iPad")
    undeclared = repeat(GOOD, "cV", "a.1", "a.2")
    rejected = repeat({"category": "telemetry"}, "x", 1, 2)  # no known category
    lines = [json.dumps(GOOD), three, "{broken", undeclared, rejected, json.dumps(GOOD)]
    report = audit.scan(inputs=str(write(tmp_path / "events.jsonl", lines)),
                        show_evidence=True)
    assert found(report) == [
        (2, IDENTIFIES, "DeviceModel"), (2, IDENTIFIES, "UserID"),
        (2, "census/unhashed-user-id", "UserID"), (2, DUPLICATE, "DeviceModel"),
        (3, "input/malformed-record", None),
        (4, "census/undeclared-field", "cV"), (4, DUPLICATE, "cV"),
        (5, "input/malformed-record", None)]
    assert report.findings[0].evidence == NAME
    assert report.findings[3].explanation == "3 values, each audited"
    s = report.summary
    assert (s.records_read, s.records_audited, s.records_rejected) == (6, 4, 2)
    (info,) = report.run["inputs"]
    assert (info["records"], info["rejected"]) == (6, 2)
    events = sum(day["events"] for day in report.extras["events_over_time"])
    assert events == 4


def test_a_repeated_key_counts_one_event_in_a_rules_scope(tmp_path: Path) -> None:
    """A usage event whose client is given as mobile and as desktop is one event for the
    consent rules, tested with each client: no finding twice, counts exact."""
    from support import LEDGER

    event = make_event("usage", tenant="fabrikam.com", pool="pool02.contoso.com",
                       time="2026-04-10T00:00:00Z")
    lines = [repeat(event, "client", "meetings_app", "desktop"),
             repeat(event, "client", "desktop", "meetings_app")]
    report = audit.scan(inputs=str(write(tmp_path / "usage.jsonl", lines)),
                        ledger=str(LEDGER))
    for line in (1, 2):  # the tracing gate holds for desktop, the pool's for meetings_app
        assert [(f.rule, f.field) for f in report.findings if f.line == line] == [
            (DUPLICATE, "client"), ("usage/collected-while-disabled", None),
            ("usage/meeting-telemetry-disabled", None)]
    assert report.summary.records_audited == 2
    seen = {o.rule: o.status.value for o in report.outcomes}
    assert seen["usage/collected-while-disabled"] == "failed"


def test_same_findings_one_process_two_processes(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of a file read by forked workers (--jobs 2) give the report of one pass."""
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    lines = [json.dumps(GOOD) if i % 7 else repeat(GOOD, "DeviceModel", NAME, "iPad")
             for i in range(400)]
    path = write(tmp_path / "events.jsonl", lines)
    assert len(parallel.plan([path], 2)) == 2
    one = audit.scan(inputs=str(path), jobs=1, chunk_rows=50)
    two = audit.scan(inputs=str(path), jobs=2, chunk_rows=50)
    assert [f.to_dict() for f in one.findings] == [f.to_dict() for f in two.findings]
    assert len(one.findings) == 2 * 58
    assert one.summary.records_audited == two.summary.records_audited == 400


@pytest.mark.slow
def test_same_findings_on_a_dask_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    """The Dask engine, a file cut into parts and a small JSON array beside it: the
    findings and counts of the pandas engine."""
    from dask.distributed import Client, LocalCluster

    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    folder = tmp_path / "dumps"
    folder.mkdir()
    lines = [json.dumps(GOOD) if i % 5 else repeat(GOOD, "DeviceModel", NAME, "iPad")
             for i in range(300)]
    write(folder / "a.jsonl", lines)
    write(folder / "b.json", lines[:20])
    assert len(parallel.plan(sorted(folder.iterdir()), 2)) == 3  # a.jsonl in two parts
    local = audit.scan(inputs=str(folder), jobs=1, chunk_rows=40)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        distributed = audit.scan(inputs=str(folder), engine="dask", chunk_rows=40,
                                 scheduler=cluster.scheduler_address)
    assert [f.to_dict() for f in distributed.findings] == [f.to_dict() for f in local.findings]
    assert len(local.findings) == 2 * (60 + 4)
    assert distributed.summary.records_audited == local.summary.records_audited == 320


# -- property ------------------------------------------------------------------------------

CLEAN = {"DeviceModel": ["iPhone", "iPad", "Pixel 8", "SM-G991B"],
         "AppName": ["iPhoneSkype", "Teams", "Outlook"],
         "OSName": ["iPhoneiOS", "Android", "Windows"],
         "OSVersion": ["8.3", "17.2", "10.0.22631"]}
VIOLATING = [EMAIL, "sip:amos.marble@contoso.com", NAME]


@st.composite
def dumps(draw: st.DrawFn, violating: bool) -> tuple[list[str], int, str, list[str], int]:
    """Clean census events, one of which (at ``line``) gives ``key`` several values; with
    ``violating``, exactly one of them (at ``bad``) identifies a user."""
    count = draw(st.integers(1, 8))
    events = [make_event("census", **{k: draw(st.sampled_from(v)) for k, v in CLEAN.items()
                                      if draw(st.booleans())}) for _ in range(count)]
    line = draw(st.integers(1, count))
    key = draw(st.sampled_from(sorted(CLEAN)))
    values = draw(st.lists(st.sampled_from(CLEAN[key]), min_size=2, max_size=4))
    bad = -1
    if violating:
        bad = draw(st.integers(0, len(values) - 1))
        values[bad] = draw(st.sampled_from(VIOLATING))
    lines = [json.dumps(e) for e in events]
    lines[line - 1] = repeat(events[line - 1], key, *values)
    return lines, line, key, values, bad


def _scans(tmp: Path, lines: list[str]) -> Iterator[audit.Report]:
    """The dump as JSON Lines, gathered and streamed, and as a JSON array."""
    yield audit.scan(inputs=str(write(tmp / "a.jsonl", lines)), show_evidence=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chunks, "SMALL_FILE_BYTES", -1)
        yield audit.scan(inputs=str(write(tmp / "b.jsonl", lines)), show_evidence=True)
    yield audit.scan(inputs=str(write(tmp / "c.json", lines)), show_evidence=True)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(dumps(violating=True))
def test_the_value_that_violates_is_found_at_its_line(
        tmp_path_factory: pytest.TempPathFactory,
        dump: tuple[list[str], int, str, list[str], int]) -> None:
    lines, line, key, values, bad = dump
    for report in _scans(tmp_path_factory.mktemp("dump"), lines):
        named = [(f.line, f.field, f.evidence) for f in report.findings if f.rule == IDENTIFIES]
        assert [(at, field) for at, field, _ in named] == [(line, key)]
        assert named[0][2] in values[bad]  # the value, or the part a detector matched
        assert [(f.line, f.field, f.explanation) for f in report.findings
                if f.rule == DUPLICATE] == [(line, key, f"{len(values)} values, each audited")]
        assert report.summary.records_audited == len(lines)
        assert report.summary.records_rejected == 0


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(dumps(violating=False))
def test_clean_repeats_raise_only_the_duplicate_key_finding(
        tmp_path_factory: pytest.TempPathFactory,
        dump: tuple[list[str], int, str, list[str], int]) -> None:
    lines, line, key, _, _ = dump
    for report in _scans(tmp_path_factory.mktemp("dump"), lines):
        assert found(report) == [(line, DUPLICATE, key)]
        assert report.summary.verdict.value == "pass"
