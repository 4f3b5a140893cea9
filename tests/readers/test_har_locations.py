"""Every finding and rejected record of a HAR capture says which request it came from.

A record's ``line`` stays its index among all events of the capture; ``location`` adds
the entry of ``log.entries`` and the line within that entry's body, and the report's
input lists the entries with their counts, so that records read = audited + rejected
holds per capture and per entry.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import (
    ONECOLLECTOR,
    compress,
    har_post,
    json_stream,
    make_event,
    write_har,
)

import audit
from audit.limits import KIB, Limits
from audit.readers.har import BINARY_BODY
from audit.renderers.json import report_schema

MALFORMED = "input/malformed-record"
LEAK = "amos.marble@contoso.com"
BOND = b"\x2b\x01\x09\x00\x05\x1a\x0bSkype.Census\x29\x03\x00"
#: the bomb and the lowered limit that stops it
BOMB = compress(b"\0" * (4 << 20), "gzip")
LIMITS = Limits(record_bytes=64 * KIB)
BOMB_REASON = ("not auditable: the gzip body decompresses to more than 64 KiB "
               "(--limit record-bytes)")


def census(n: int = 1, **fields: Any) -> list[dict[str, Any]]:
    return [make_event("census", **fields) for _ in range(n)]


def capture_entries() -> list[dict[str, Any]]:
    """Nine entries as a 1DS client posts them (one a GET), each body differently."""
    stream = json_stream([*census(), make_event("usage"), *census(DeviceModel=LEAK)])
    return [
        har_post(compress(json_stream(census(3)), "gzip"), coding="gzip"),  # 1: lines 1-3
        har_post(compress(stream, "raw-deflate"), coding="deflate"),  # 2: 4-6, leak at 6
        {"request": {"method": "GET", "url": ONECOLLECTOR + "ping"}},  # 3: nothing
        har_post(compress(json.dumps(census(2)).encode(), "br"), coding="br",
                 mime="application/json"),  # 4: 7-8
        har_post(compress(json.dumps(make_event("usage")).encode(), "gzip"),
                 coding="gzip", mime="application/json"),  # 5: 9
        har_post(BOND, mime="application/bond-compact-binary"),  # 6: 10, rejected
        har_post(compress(json_stream(census(2)), "gzip")[:-9], coding="gzip"),  # 7: 11
        har_post(BOMB, coding="gzip"),  # 8: 12, rejected past the lowered limit
        har_post(json_stream([*census(), "{broken", *census()])),  # 9: 13-15, 14 rejected
    ]


REJECTED = {  # location -> reason
    "entry 6, line 1": f"{BINARY_BODY} (application/bond-compact-binary)",
    "entry 7, line 1": "not auditable: the body is not valid gzip (it ends early)",
    "entry 8, line 1": BOMB_REASON,
    "entry 9, line 2": "invalid JSON in request body: Expecting property name enclosed "
                       "in double quotes",
}
ENTRIES = [  # entry, first, records, rejected
    (1, 1, 3, 0), (2, 4, 3, 0), (4, 7, 2, 0), (5, 9, 1, 0), (6, 10, 1, 1), (7, 11, 1, 1),
    (8, 12, 1, 1), (9, 13, 3, 1)]


def check_entries(info: dict[str, Any]) -> None:
    """The input's entries are the expected ones, and add up."""
    entries = info["entries"]
    assert [(e["entry"], e["first"], e["records"], e["rejected"]) for e in entries] == ENTRIES
    assert all(e["records"] == e["audited"] + e["rejected"] for e in entries)
    assert all(e["url"] == ONECOLLECTOR for e in entries)
    assert info["records"] == sum(e["records"] for e in entries) == 15
    assert info["rejected"] == sum(e["rejected"] for e in entries) == 4


def test_findings_and_rejections_say_which_entry_and_line(tmp_path: Path) -> None:
    path = write_har(tmp_path / "capture.har", capture_entries())
    report = audit.scan(inputs=str(path), limits=LIMITS)
    [info] = report.run["inputs"]
    check_entries(info)
    summary = report.summary
    assert (summary.records_read, summary.records_audited, summary.records_rejected) == \
        (15, 11, 4)
    leaks = [(f.line, f.location) for f in report.findings
             if f.rule == "census/identifies-user"]
    assert leaks == [(6, "entry 2, line 3")]
    assert {f.location: f.explanation for f in report.findings if f.rule == MALFORMED} == \
        REJECTED
    assert all(f.location is not None for f in report.findings)
    # line stays the record index; location agrees with it
    assert {f.line for f in report.findings if f.rule == MALFORMED} == {10, 11, 12, 14}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_report_json_of_several_captures(run_cli, tmp_path: Path, jobs: str) -> None:
    """A small capture (read with others into shared chunks), a large one (read on its
    own) and a gzip-compressed one, in one or two processes: each finding is placed in
    its own capture, and report.json keeps to its schema."""
    folder = tmp_path / "captures"
    folder.mkdir()
    small = write_har(folder / "a-small.har", capture_entries())
    padding = [har_post(json_stream([make_event("usage", IMSent=k) for k in range(120)]))
               for _ in range(3)]  # each body within the record limit, together over 64 KiB
    large = write_har(folder / "b-large.har", [*capture_entries(), *padding])
    assert small.stat().st_size < 64 * KIB < large.stat().st_size
    with gzip.open(folder / "c-packed.har.gz", "wb") as packed:
        packed.write(small.read_bytes())
    shutil.copy(small, folder / "d-again.har")
    result = run_cli("scan", str(folder), "--limit", "record-bytes=64KiB", "--jobs", jobs,
                     "--format", "json", "--allow-incomplete")
    assert result.code == 1, result.err  # the leak is a high finding
    report = result.report
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    inputs = {Path(i["path"]).name: i for i in report["run"]["inputs"]}
    assert sorted(inputs) == ["a-small.har", "b-large.har", "c-packed.har.gz", "d-again.har"]
    for name in ("a-small.har", "c-packed.har.gz", "d-again.har"):
        check_entries(inputs[name])
    assert inputs["b-large.har"]["entries"][-3:] == [
        {"entry": 10 + k, "url": ONECOLLECTOR, "first": 16 + 120 * k, "records": 120,
         "audited": 120, "rejected": 0} for k in range(3)]
    for name in inputs:
        mine = [f for f in report["findings"] if Path(f["source"]).name == name]
        assert {f["location"]: f["explanation"] for f in mine if f["rule"] == MALFORMED} == \
            REJECTED, name
        assert [f["location"] for f in mine if f["rule"] == "census/identifies-user"] == \
            ["entry 2, line 3"], name


def test_the_unread_rest_of_a_broken_capture_comes_after_its_last_entry(tmp_path: Path
                                                                        ) -> None:
    whole = json.dumps({"log": {"entries": capture_entries()[:2]}})
    path = tmp_path / "broken.har"
    path.write_text(whole[:-3] + ', {"request": ', "utf-8")  # broken after entry 2
    report = audit.scan(inputs=str(path))
    [info] = report.run["inputs"]
    assert info["records"] == 7 and [e["records"] for e in info["entries"]] == [3, 3]
    [rest] = [f for f in report.findings if f.rule == MALFORMED]
    assert (rest.line, rest.location) == (7, "after entry 2")
    assert rest.explanation is not None
    assert rest.explanation.endswith("the rest of the capture is not read")


def test_other_inputs_have_no_location_nor_entries(tmp_path: Path) -> None:
    from support import write_jsonl

    path = write_jsonl(tmp_path / "d.jsonl", census(DeviceModel=LEAK))
    report = audit.scan(inputs=str(path))
    assert "entries" not in report.run["inputs"][0]
    assert report.findings and all(f.location is None for f in report.findings)
    assert all("location" not in f.to_dict() for f in report.findings)


def test_the_bundled_onecollector_capture(run_cli) -> None:
    """Common Schema events posted as 1DS SDKs post them, audited through the mapping:
    the e-mail in entry 2's third event fails the scan, the Bond body is rejected."""
    from support import DIRECTORY, FIXTURES

    result = run_cli("scan", str(FIXTURES / "dumps" / "onecollector.har"), "--mapping",
                     str(FIXTURES / "mappings" / "common-schema.yaml"), "--identities",
                     str(DIRECTORY), "--format", "json")
    assert result.code == 1, result.err
    report = result.report
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    [info] = report["run"]["inputs"]
    assert [(e["entry"], e["records"], e["audited"]) for e in info["entries"]] == [
        (2, 3, 3), (3, 2, 2), (4, 3, 3), (5, 1, 0)]
    assert "apikey" not in json.dumps(report)  # the URL's query stays out of the report
    assert [(f["rule"], f["field"], f["location"]) for f in report["findings"]] == [
        ("census/identifies-user", "DeviceModel", "entry 2, line 3"),
        (MALFORMED, None, "entry 5, line 1")]
    assert report["summary"]["verdict"] == "fail"
