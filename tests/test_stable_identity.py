"""A finding keeps its identity when unrelated lines of the dump come and go.

Baselines and ``telemetry-audit diff`` match findings by (rule, fingerprint). A rejected
record (``input/malformed-record``) is identified by a keyed digest of its content and
the reason, never by its path or line: otherwise deleting two earlier lines reports one
new and one fixed finding, and a baseline entry stops matching.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DIRECTORY, LEDGER, make_event, write_jsonl

import audit
from audit.readers import content_digest, read_batches

MALFORMED = "input/malformed-record"
BROKEN = '{"category": "census", "time": '  # invalid JSON
DUMP: list[Any] = [
    make_event("census"),
    make_event("usage"),
    make_event("error"),
    make_event("census", Email="amos.marble@contoso.com"),
    BROKEN,
    {"time": "2026-03-02T10:00:00Z", "AppName": "x"},  # no category field
    make_event("usage", client="tablet"),
]


def _scan(run_cli: Any, dump: Path, out: Path, *extra: str) -> Any:
    result = run_cli("scan", str(dump), "--ledger", str(LEDGER), "--identities",
                     str(DIRECTORY), "--format", "json", *extra, out=out)
    assert result.code in (1, 3), result.out + result.err
    return result


def _malformed_lines(report: dict[str, Any]) -> list[int]:
    return sorted(f["line"] for f in report["findings"] if f["rule"] == MALFORMED)


def test_deleting_unrelated_lines_changes_nothing_in_the_diff(run_cli, tmp_path: Path
                                                              ) -> None:
    before = _scan(run_cli, write_jsonl(tmp_path / "before.jsonl", DUMP), tmp_path / "a")
    after = _scan(run_cli, write_jsonl(tmp_path / "after.jsonl", DUMP[2:]), tmp_path / "b")
    assert _malformed_lines(before.report) == [5, 6]
    assert _malformed_lines(after.report) == [3, 4]  # the lines moved, the records did not
    diff = run_cli("diff", str(before.out_dir / "report.json"),
                   str(after.out_dir / "report.json"))
    assert diff.code == 0, diff.out
    assert "New findings" not in diff.out and "Fixed findings" not in diff.out
    assert Counter((f["rule"], f["fingerprint"]) for f in before.report["findings"]) == \
        Counter((f["rule"], f["fingerprint"]) for f in after.report["findings"])


def test_a_baseline_keeps_accepting_a_rejected_record_that_moved(run_cli, tmp_path: Path
                                                                ) -> None:
    before = _scan(run_cli, write_jsonl(tmp_path / "before.jsonl", DUMP), tmp_path / "a")
    baseline = tmp_path / "baseline.json"
    made = run_cli("baseline", "create", str(before.out_dir / "report.json"), "--rule",
                   MALFORMED, "--reason", "r", "--owner", "o", "--expires", "2999-12-31",
                   "--out", str(baseline))
    assert made.code == 0, made.err
    after = _scan(run_cli, write_jsonl(tmp_path / "after.jsonl", DUMP[2:]), tmp_path / "b",
                  "--baseline", str(baseline))
    malformed = [f for f in after.report["findings"] if f["rule"] == MALFORMED]
    assert [f["baseline"] for f in malformed] == ["suppressed", "suppressed"]
    # Accepted, the rejected records no longer make the audit incomplete.
    assert "rejected" not in [g["code"] for g in after.report["summary"]["incomplete"]]


def test_different_records_and_different_reasons_are_different_findings(tmp_path: Path
                                                                        ) -> None:
    """The same text, rejected by the JSON Lines reader and by the CSV reader for another
    reason, is two findings; two broken lines are two findings."""
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text('census,oops\n{"category": \n{"category": \n', "utf-8")
    csv = tmp_path / "events.csv"
    csv.write_text("category,time,AppName\ncensus,oops\n", "utf-8")
    rejected = [r for path in (jsonl, csv) for b in read_batches(path, 10) for r in b.rejected]
    assert [r.digest for r in rejected] == [content_digest(text) for text in (
        "census,oops", '{"category": ', '{"category": ', "census,oops")]
    assert rejected[0].what != rejected[3].what
    report = audit.scan(inputs=[str(jsonl), str(csv)])
    fingerprints = {(f.source, f.line): f.fingerprint for f in report.findings
                    if f.rule == MALFORMED}
    assert len(fingerprints) == 4
    assert fingerprints[(str(jsonl), 1)] != fingerprints[(str(csv), 2)]  # same bytes
    assert fingerprints[(str(jsonl), 1)] != fingerprints[(str(jsonl), 2)]  # other bytes
    assert fingerprints[(str(jsonl), 2)] == fingerprints[(str(jsonl), 3)]  # the same record


_GOOD = json.dumps(make_event("census"))
_CSV_HEADER = "category,time,AppName\n"
_CSV_GOOD = "census,2026-03-02T10:00:00Z,iPhoneSkype\n"
#: name: (text before the rejected records, the records, how many are rejected); two of
#: the earlier records go.
_DUMPS = {
    "events.csv": (_CSV_HEADER + _CSV_GOOD * 3,
                   'census,x\ncensus,"2026"x,y\n,,\ntelemetry,x,y\n'
                   + _CSV_GOOD + 'census,"never closed,z\n' + _CSV_GOOD, 5),
    "events.json": ("[" + f"{_GOOD}, " * 3,
                    f'7, {_GOOD[:-1]}, "tags": [{{"k": 1, "k": 2}}]}}, {{"AppName": "x"}}, '
                    f'{_GOOD}, '
                    '{"category": "census", "x": ', 4),
    "events.jsonl.gz": (f"{_GOOD}\n" * 3,
                        "[1]\n{broken\n\xff\n" + f"{_GOOD}\n" + '{"category": "x"}\n', 4),
}


@pytest.mark.parametrize("name", sorted(_DUMPS))
def test_each_reader_identifies_a_rejected_record_by_its_content(tmp_path: Path, name: str
                                                                 ) -> None:
    head, rejected, count = _DUMPS[name]

    def malformed(text: str, folder: str) -> list[tuple[int | None, str]]:
        path = tmp_path / folder / name
        path.parent.mkdir()
        raw = text.encode("utf-8").replace("\xff".encode(), b"\xff")  # a byte, not UTF-8
        path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
        return [(f.line, f.fingerprint) for f in audit.scan(inputs=str(path)).findings
                if f.rule == MALFORMED]

    before = malformed(head + rejected, "before")
    after = malformed(head.replace(_GOOD + ", ", "", 2).replace(_GOOD + "\n", "", 2)
                      .replace(_CSV_GOOD, "", 2) + rejected, "after")
    assert len(before) == count
    assert [line - 2 for line, _ in before] == [line for line, _ in after]
    assert [fp for _, fp in before] == [fp for _, fp in after]


def test_a_record_rejected_after_parsing_is_the_same_in_any_batch(tmp_path: Path) -> None:
    """No category: identified by its fields, whatever the batch made of their types
    (beside a record without ``n``, pandas holds 3 as 3.0) and whichever reader path."""
    record = {"time": "2026-03-02T10:00:00Z", "AppName": "x", "n": 3}
    alone = write_jsonl(tmp_path / "alone.jsonl", [record])
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [make_event("usage"), BROKEN, record])
    prints = {audit.scan(inputs=str(path), chunk_rows=rows).findings[-1].fingerprint
              for path in (alone, mixed) for rows in (1, 3)}
    assert len(prints) == 1


def test_the_fingerprint_is_keyed(tmp_path: Path) -> None:
    """Nothing unkeyed reaches the report: another key, other fingerprints."""
    path = write_jsonl(tmp_path / "events.jsonl", [BROKEN])
    one = audit.scan(inputs=str(path), key="one").findings[0].fingerprint
    two = audit.scan(inputs=str(path), key="two").findings[0].fingerprint
    assert one != two
    assert content_digest(BROKEN) not in json.dumps(audit.scan(inputs=str(path)).to_dict())


# Records of every kind: valid events with and without findings, broken lines, records
# rejected after parsing. One UserID and one DeviceID throughout, so no record is related
# to another (a DeviceID shared by many users is a finding about several records).
_EVENTS = st.one_of(
    st.sampled_from(["census", "usage", "error"]).map(make_event),
    st.sampled_from([
        make_event("census", Email="amos.marble@contoso.com"),
        make_event("census", DeviceModel="Amos Marble's iPhone"),
        make_event("census", SignInAttempts=2.5),  # a float among integers
        make_event("usage", client="tablet"),
        make_event("usage", IMSent=-3),
        make_event("usage", client="mobile", tenant=None),
        make_event("error", time="yesterday"),
        make_event("error", ext={"user": {"localId": "abc"}}),
    ]),
)
_REJECTED = st.sampled_from([
    BROKEN, "[1, 2]", "42", '"text"', "{'category': 'census'}",
    json.dumps(make_event("census"))[:-1] + ', "tags": [{"k": 1, "k": 2}]}',  # a repeat in a list
    '{"time": "2026-03-02T10:00:00Z", "AppName": "x", "n": 3}',  # no category field
    '{"time": "2026-03-02T10:00:00Z", "AppName": "x", "n": 3.5}',
    '{"category": "telemetry", "n": 1}',  # unknown category
    '{"category": null}',
])
#: Records that repeat a key: audited with each value, an input/duplicate-key finding each.
_REPEATED = st.sampled_from([
    json.dumps(make_event("census"))[:-1] + ', "UserID": "amos.marble@contoso.com"}',
    json.dumps(make_event("census"))[:-1] + ', "cV": "a", "cV": "b"}',
    json.dumps(make_event("usage"))[:-1] + ', "a.b": 1, "a": {"b": "amos@contoso.com"}}',
])
_LINES = st.one_of(_EVENTS, _REJECTED, _REPEATED)


def _by_record(path: Path, chunk_rows: int) -> list[Counter[tuple[str, str]]]:
    """The (rule, fingerprint) multiset of each line's record, in line order."""
    report = audit.scan(inputs=str(path), ledger=str(LEDGER), identities=str(DIRECTORY),
                        chunk_rows=chunk_rows, quiet=True)
    lines = len(path.read_text("utf-8").splitlines())
    found: list[Counter[tuple[str, str]]] = [Counter() for _ in range(lines)]
    for f in report.findings:
        assert f.line is not None, f
        found[f.line - 1][(f.rule, f.fingerprint)] += 1
    return found


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(_LINES, st.booleans()), min_size=1, max_size=12),
       st.lists(st.tuples(st.integers(0, 12), _LINES), max_size=4),
       st.integers(1, 5))
def test_unrelated_lines_leave_every_other_finding_as_it_was(
        tmp_path_factory: Any, records: list[tuple[Any, bool]],
        inserted: list[tuple[int, Any]], chunk_rows: int) -> None:
    """Remove some records and insert others: the findings of each record kept, of every
    rule, are the same (rule, fingerprint) multiset, whatever its line and batch."""
    folder = tmp_path_factory.mktemp("dumps")
    original = [record for record, _ in records]
    # The records kept, by their index in the original dump; None for an inserted one.
    changed: list[tuple[int | None, Any]] = [(i, record) for i, (record, keep)
                                             in enumerate(records) if keep]
    for at, record in inserted:
        changed.insert(min(at, len(changed)), (None, record))
    before = _by_record(write_jsonl(folder / "before.jsonl", original), chunk_rows)
    after = _by_record(write_jsonl(folder / "after.jsonl", [r for _, r in changed]),
                       chunk_rows)
    for line, (index, _) in enumerate(changed):
        if index is not None:
            assert after[line] == before[index], (line, index)
