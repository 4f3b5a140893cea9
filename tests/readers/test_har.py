"""HAR captures: a body posted that is not JSON is a rejected record, never nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from support import DIRECTORY, LEDGER, make_event

import audit
from audit.readers.har import BINARY_BODY

MALFORMED = "input/malformed-record"
PROTOBUF = bytes([0x0A, 0x8F, 0x01, 0x12, 0xFF, 0xFE, 0x00, 0x9C]) * 40  # not UTF-8


def post(text: str, mime: str | None = "application/json", *, method: str = "POST",
         encoding: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"text": text}
    if mime is not None:
        data["mimeType"] = mime
    if encoding is not None:
        data["encoding"] = encoding
    return {"request": {"method": method, "url": "https://events.invalid/collect",
                        "postData": data}, "response": {"status": 200}}


def binary_post(blob: bytes = PROTOBUF) -> dict[str, Any]:
    return post(base64.b64encode(blob).decode(), "application/bond-compact-binary",
                encoding="base64")


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}), "utf-8")
    return path


def rejected(path: Path) -> list[tuple[int | None, str | None]]:
    report = audit.scan(inputs=str(path))
    return [(f.line, f.explanation) for f in report.findings if f.rule == MALFORMED]


def test_a_binary_body_makes_the_audit_incomplete(run_cli, tmp_path: Path) -> None:
    """A capture of Bond bodies read 0 records and passed; now it is one rejected record."""
    path = write_har(tmp_path / "capture.har", [binary_post()])
    result = run_cli("scan", str(path), "--ledger", str(LEDGER), "--identities",
                     str(DIRECTORY), "--format", "json")
    assert result.code == 3, result.out + result.err
    report = result.report
    assert report["summary"]["verdict"] == "incomplete"
    assert report["summary"]["records_read"] == 1
    assert report["summary"]["records_rejected"] == 1
    assert [(f["rule"], f["line"], f["explanation"]) for f in report["findings"]] == [
        (MALFORMED, 1, f"{BINARY_BODY} (application/bond-compact-binary)")]


def test_a_text_body_that_is_not_json_names_its_content_type(tmp_path: Path) -> None:
    path = write_har(tmp_path / "capture.har", [
        post("field1=abc&field2=def", "application/x-www-form-urlencoded"),
        post("\x08\x96\x01 protobuf as text", None),
        post("ping", "  "),
    ])
    assert rejected(path) == [
        (1, "not auditable: request body is not JSON (application/x-www-form-urlencoded)"),
        (2, "not auditable: binary body (no content type)"),  # control characters
        (3, "not auditable: request body is not JSON (no content type)"),
    ]


def test_a_body_that_is_not_base64_is_rejected(tmp_path: Path) -> None:
    path = write_har(tmp_path / "capture.har", [post("not base64!", encoding="base64")])
    assert rejected(path) == [(1, "not auditable: request body is not valid base64")]


def test_base64_json_is_read_and_other_requests_stay_out(tmp_path: Path) -> None:
    """GETs and empty bodies carry no telemetry; a record's line is its index among the
    capture's events, a rejected body counting as one."""
    events = [make_event("census"), make_event("usage", client="tablet")]
    encoded = base64.b64encode(json.dumps(events[1]).encode()).decode()
    path = write_har(tmp_path / "capture.har", [
        post(json.dumps(events)),  # events 1 and 2
        {"request": {"method": "GET", "url": "https://events.invalid/ping"}},
        post("", "application/octet-stream"),
        post("   ", None),
        post(base64.b64encode(b"  \n").decode(), "text/plain", encoding="base64"),
        binary_post(),  # 3
        post(encoded, "application/json", method="put", encoding="base64"),  # 4
        post(json.dumps(events[0]), "text/plain"),  # 5: JSON, whatever the type says
    ])
    report = audit.scan(inputs=str(path))
    assert report.summary.records_read == 5 and report.summary.records_rejected == 1
    assert [(f.line, f.rule) for f in report.findings] == [
        (2, "usage/schema-violation"), (3, MALFORMED), (4, "usage/schema-violation")]


def test_json_lines_bodies_keep_their_reasons(tmp_path: Path) -> None:
    """A body of JSON Lines is read line by line whatever its type; a broken line of a
    body typed as JSON is rejected as invalid JSON, not as 'not JSON'."""
    good = json.dumps(make_event("census"))
    path = write_har(tmp_path / "capture.har", [
        post(f"{good}\n{{broken\n", "application/x-ndjson"),
        post(f"{good}\n{{broken\n", "text/plain"),
        post("{broken", "application/json"),
    ])
    assert rejected(path) == [
        (2, "invalid JSON in request body: Expecting property name enclosed in double quotes"),
        (4, "invalid JSON in request body: Expecting property name enclosed in double quotes"),
        (5, "invalid JSON in request body: Expecting property name enclosed in double quotes"),
    ]


def test_a_rejected_body_keeps_its_fingerprint_when_earlier_requests_go(tmp_path: Path
                                                                      ) -> None:
    first = write_har(tmp_path / "first.har", [post(json.dumps(make_event("census"))),
                                               binary_post(), binary_post(PROTOBUF[::-1])])
    second = write_har(tmp_path / "second.har", [binary_post(), binary_post(PROTOBUF[::-1])])

    def identities(path: Path) -> list[tuple[int | None, str]]:
        return [(f.line, f.fingerprint) for f in audit.scan(inputs=str(path)).findings]

    (line_a, a), (line_b, b) = identities(first)
    assert (line_a, line_b) == (2, 3) and a != b  # two bodies, two findings
    assert identities(second) == [(1, a), (2, b)]
