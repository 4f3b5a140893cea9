"""A corpus of unusable records: each is reported with its line, and the counts add up."""

from __future__ import annotations

import json
from pathlib import Path

from support import make_event

import audit
from audit.readers import StrictJSON

GOOD = json.dumps(make_event("census"))
CORPUS: list[tuple[bytes, str | None]] = [
    (GOOD.encode(), None),
    (b'{"category": "census", "time": ', "invalid JSON"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b'"just a string"', "not a JSON object"),
    (b"42", "not a JSON object"),
    (b"null", "not a JSON object"),
    (b"", None),  # blank lines are not records
    (b"   ", None),
    (GOOD.replace("iPhone", "iPh\xc3").encode("latin-1"), "invalid UTF-8"),
    (b'{"time": "2026-03-01T00:00:00Z", "AppName": "x"}', "no category field"),
    (b'{"category": "telemetry", "time": "2026-03-01T00:00:00Z"}', "unknown category"),
    (b'{"category": null}', "no category field"),
    (b"[" * 5000 + b"]" * 5000, "invalid JSON: nested too deeply"),
    (b'{"category": "census", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "invalid JSON"),
    (b"{'category': 'census'}", "invalid JSON"),
    (GOOD.encode(), None),
    (
        b'{"category": "usage", "time": "2026-03-01T00:00:00Z", "client": "desktop", "tenant": '
        b'"contoso.com", "IMSent": NaN}',
        "not valid JSON: NaN is not a JSON value",
    ),  # Python's json (and pyarrow) would take it; JSON has no NaN
]


def test_each_malformed_line_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b"\n".join(line for line, _ in CORPUS) + b"\n")
    report = audit.scan(inputs=str(path))
    rejected = {
        f.line: f.explanation for f in report.findings if f.rule == "input/malformed-record"
    }
    expected = {n: what for n, (_, what) in enumerate(CORPUS, start=1) if what}
    assert set(rejected) == set(expected)
    for line, what in expected.items():
        assert what in rejected[line], (line, rejected[line])
    s = report.summary
    records = sum(1 for line, _ in CORPUS if line.strip())
    assert s.records_read == records
    assert s.records_rejected == len(expected)
    assert s.records_read == s.records_audited + s.records_rejected


def test_broken_json_array_reports_the_element(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    good = json.dumps(make_event("census"))
    path.write_text(f'[{good}, 7, {good}, {{"category": ', "utf-8")
    report = audit.scan(inputs=str(path))
    rejected = [(f.line, f.explanation) for f in report.findings]
    assert rejected[0] == (2, "not a JSON object (found int)")
    assert rejected[1][0] == 4 and "invalid JSON" in rejected[1][1]
    assert report.summary.records_read == 4 and report.summary.records_audited == 2


def test_csv_row_of_wrong_width(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "category,time,AppName\ncensus,2026-03-01T00:00:00Z\n"
        'census,2026-03-01T00:00:00Z,"multi\nline"\ncensus,x,y,z\n',
        "utf-8",
    )
    report = audit.scan(inputs=str(path))
    rejected = [
        (f.line, f.explanation) for f in report.findings if f.rule == "input/malformed-record"
    ]
    assert rejected == [(2, "expected 3 columns, found 2"), (5, "expected 3 columns, found 4")]


def test_truncated_gzip_is_an_input_error(run_cli, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress((GOOD + "\n").encode() * 100)[:-20])
    result = run_cli("scan", str(path))
    assert result.code == 2 and str(path) in result.err and "Traceback" not in result.err


def test_duplicate_keys_are_audited_not_silently_collapsed(tmp_path: Path) -> None:
    """A second UserID must not hide the first: the record is audited with each value,
    and an input/duplicate-key finding names the key; nothing is rejected."""
    dup = GOOD[:-1] + ', "UserID": "amos.marble@contoso.com"}'
    nested = '{"category": "census", "ext": {"id": 1, "id": 2}}'
    path = tmp_path / "dups.jsonl"
    path.write_text("\n".join([GOOD, dup, nested, GOOD]) + "\n", "utf-8")
    report = audit.scan(inputs=str(path))
    assert report.summary.records_rejected == 0 and report.summary.records_audited == 4
    assert {(f.line, f.field, f.explanation) for f in report.findings
            if f.rule == "input/duplicate-key"} == {
        (2, "UserID", "2 values, each audited"), (3, "ext.id", "2 values, each audited")}
    assert (2, "UserID") in {(f.line, f.field) for f in report.findings
                             if f.rule == "census/unhashed-user-id"}
    array = tmp_path / "dups.json"
    array.write_text(f"[{GOOD}, {dup}]", "utf-8")
    assert [(f.line, f.rule, f.field) for f in audit.scan(inputs=str(array)).findings] == [
        (2, "census/identifies-user", "UserID"), (2, "census/unhashed-user-id", "UserID"),
        (2, "input/duplicate-key", "UserID")]


def test_a_repeated_key_inside_an_array_is_rejected(tmp_path: Path) -> None:
    """No dotted path reaches an object inside an array: its other values could not be
    audited, so such a record is still rejected, naming the key."""
    listed = GOOD[:-1] + ', "tags": [{"k": "a", "k": "amos.marble@contoso.com"}]}'
    path = tmp_path / "listed.jsonl"
    path.write_text("\n".join([GOOD, listed]) + "\n", "utf-8")
    report = audit.scan(inputs=str(path))
    assert [(f.line, f.explanation) for f in report.findings
            if f.rule == "input/malformed-record"] == [
        (2, "duplicate key 'k' in an object inside an array")]


def test_csv_with_a_repeated_column_is_exit_2(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("category,UserID,UserID\ncensus,a,b\n", "utf-8")
    result = run_cli("scan", str(path), "--format", "json")
    assert result.code == 2
    assert f"{path}:1: duplicate column 'UserID'" in result.err


def test_har_body_events_that_repeat_a_key_are_audited(tmp_path: Path) -> None:
    """Each event of a body keeps its own repeats (an array, an envelope, JSON Lines); an
    envelope that repeats ``events`` would drop the first events: that body is rejected."""
    dup = GOOD[:-1] + ', "UserID": "x"}'
    bodies = ["[" + GOOD + ", " + dup + "]", '{"events": [' + dup + "]}", GOOD + "\n" + dup,
              '{"events": [' + GOOD + '], "events": [' + dup + "]}"]
    har = {"log": {"entries": [{"request": {"method": "POST", "postData": {
        "mimeType": "application/json", "text": body}}} for body in bodies]}}
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har), "utf-8")
    report = audit.scan(inputs=str(path))
    assert report.summary.records_read == 6 and report.summary.records_rejected == 1
    assert [(f.line, f.field) for f in report.findings if f.rule == "input/duplicate-key"] == [
        (2, "UserID"), (3, "UserID"), (5, "UserID")]
    assert [(f.line, f.explanation) for f in report.findings
            if f.rule == "input/malformed-record"] == [
        (6, "duplicate key 'events' in the request body")]


def test_lone_surrogate_escapes_are_rejected_in_every_json_format(run_cli, tmp_path: Path
                                                                   ) -> None:
    """``"\\ud800"`` is valid JSON but not Unicode: no report could hold it, so the record
    is rejected at its line (keys and values, nested in lists and objects alike)."""
    lone = StrictJSON.LONE_SURROGATE
    bad = [GOOD[:-1] + ', "DeviceModel2": "x\\ud800y"}',
           GOOD[:-1] + ', "Bad\\udc00Key": 1}',
           GOOD[:-1] + ', "ext": {"tags": [["ok", "\\udfff"]]}}']
    pair = GOOD[:-1] + ', "Note": "\\ud83d\\ude00"}'  # a valid pair is an emoji, not a surrogate
    path = tmp_path / "lone.jsonl"
    path.write_text("\n".join([GOOD, *bad, pair]) + "\n", "utf-8")
    result = run_cli("scan", str(path), "--show-evidence", "--format", "json,sarif,html,junit,md")
    assert result.code in (0, 1), result.err
    report = json.loads((result.out_dir / "report.json").read_text("utf-8"))
    assert {(f["line"], f["explanation"]) for f in report["findings"]
            if f["rule"] == "input/malformed-record"} == {(2, lone), (3, lone), (4, lone)}
    assert report["summary"]["records_audited"] == 2
    array = tmp_path / "lone.json"
    array.write_text(f"[{GOOD}, {bad[0]}]", "utf-8")
    assert [(f.line, f.explanation) for f in audit.scan(inputs=str(array)).findings] == [
        (2, lone)]
    har = {"log": {"entries": [{"request": {"method": "POST", "postData": {
        "mimeType": "application/json", "text": f"[{GOOD}, {bad[2]}]"}}}]}}
    capture = tmp_path / "capture.har"
    capture.write_text(json.dumps(har), "utf-8")
    assert {f.explanation for f in audit.scan(inputs=str(capture)).findings} == {
        f"{lone} in the request body"}


def test_a_line_nested_thousands_deep_is_rejected_not_a_crash(tmp_path: Path) -> None:
    """pyarrow's parser crashes the process on such a line: it must never see it. The
    scan runs in a child process, so a crash fails this test instead of the run."""
    import subprocess
    import sys

    deep = b'{"category": "census", "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"\n".join([GOOD.encode(), deep, GOOD.encode()]) + b"\n")
    done = subprocess.run([sys.executable, "-m", "audit", "scan", str(path), "--out",
                           str(tmp_path / "out"), "--format", "json", "--quiet"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 3, done.stderr  # a rejected record: INCOMPLETE
    report = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert report["summary"]["records_read"] == 3
    assert [(f["line"], f["explanation"]) for f in report["findings"]
            if f["rule"] == "input/malformed-record"] == [(2, "invalid JSON: nested too deeply")]


def test_har_nested_too_deeply_is_reported(tmp_path: Path) -> None:
    from audit.errors import InputError

    deep = "[" * 100_000 + "]" * 100_000
    body = '{"category": "census", "x": ' + deep + "}"
    har = {"log": {"entries": [{"request": {"method": "POST", "url": "https://t/e",
                                            "postData": {"mimeType": "application/json",
                                                         "text": body}}}]}}
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har), "utf-8")
    report = audit.scan(inputs=str(path))
    assert [f.explanation for f in report.findings] == [
        "invalid JSON in request body: nested too deeply"]
    envelope = tmp_path / "envelope.har"
    envelope.write_text('{"log": ' + deep + "}", "utf-8")
    try:
        audit.scan(inputs=str(envelope))
    except InputError as exc:  # stepped over, not parsed: its log is no object of entries
        assert "no log.entries list" in str(exc) and "envelope.har" in str(exc)
    else:
        raise AssertionError("a HAR file nested too deeply must be an input error")


def test_a_json_array_says_when_its_later_elements_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(f'[{GOOD}, {{"x": {"[" * 100_000}{"]" * 100_000}}}, {GOOD}]', "utf-8")
    report = audit.scan(inputs=str(path))
    (explanation,) = [f.explanation for f in report.findings]
    assert "nested too deeply" in explanation and "not read" in explanation


def test_a_csv_quoting_error_rejects_its_record_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    ok = "census,2026-03-01T00:00:00Z,iPhoneSkype"
    path.write_text(f'category,time,AppName\n{ok}\ncensus,"2026"x,y\n{ok}\n'
                    f'census,"never closed,z\n{ok}\n', "utf-8")
    report = audit.scan(inputs=str(path))
    rejected = [
        (f.line, f.explanation) for f in report.findings if f.rule == "input/malformed-record"
    ]
    assert rejected == [
        (3, "invalid CSV: ',' expected after '\"'"),
        (5, "invalid CSV: unexpected end of data (a quoted value is never closed: "
            "the lines after it are part of it)"),
    ]
    assert report.summary.records_audited == 2 and report.summary.records_rejected == 2


def test_records_holding_no_value_are_rejected_not_a_crash(tmp_path: Path) -> None:
    """A CSV row of empty cells, or a JSON object with no keys, is a record with no
    category; a batch of only those once made a frame with no rows."""
    for name, text in (("events.csv", "category,time,AppName\n,,\n"), ("events.json", "[{}]")):
        path = tmp_path / name
        path.write_text(text, "utf-8")
        report = audit.scan(inputs=str(path))
        assert [(f.line, f.explanation.startswith("no category field;"))
                for f in report.findings] == [(2 if name.endswith("csv") else 1, True)]
        assert report.summary.records_rejected == 1


def test_a_capture_in_another_format_hints_at_a_field_mapping(run_cli, tmp_path: Path
                                                              ) -> None:
    """Common Schema events (name, ext.*, data.*) without --mapping: every record is
    rejected, and the reason says what would audit them."""
    from support import FIXTURES

    dump = FIXTURES / "dumps" / "common-schema.jsonl"
    result = run_cli("scan", str(dump), "--format", "json,md")
    assert result.code == 3, result.out + result.err
    assert result.report["summary"]["verdict"] == "incomplete"
    reasons = {f["explanation"] for f in result.report["findings"]}
    assert len(reasons) == 1
    (reason,) = reasons
    assert reason.startswith("no category field; ") and "\n" not in reason
    assert "--mapping FILE" in reason and "source path of each reference field" in reason
    assert reason in (result.out_dir / "report.md").read_text("utf-8")
    mapped = run_cli("scan", str(dump), "--mapping",
                     str(FIXTURES / "mappings" / "common-schema.yaml"), out=tmp_path / "ok")
    assert not [f for f in mapped.report["findings"] if f["rule"] == "input/malformed-record"]


def test_with_a_mapping_the_reason_says_what_the_mapping_missed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"data": {"kind": "census"}}\n{"data": {}, "time": "x"}\n', "utf-8")
    takes = tmp_path / "takes.yaml"
    takes.write_text("fields:\n  category: data.kind\n", "utf-8")
    names_none = tmp_path / "none.yaml"
    names_none.write_text("fields:\n  time: data.time\n", "utf-8")

    def reasons(mapping: Path) -> list[str | None]:
        report = audit.scan(inputs=str(path), mapping=str(mapping))
        return [f.explanation for f in report.findings if f.rule == "input/malformed-record"]

    assert reasons(takes) == ["no category field; the field mapping takes it from data.kind, "
                              "which this record does not have"]
    assert reasons(names_none) == [
        "no category field; the field mapping (--mapping) names no source field for it"] * 2
