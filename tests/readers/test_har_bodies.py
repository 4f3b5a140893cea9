"""HAR request bodies as 1DS SDKs post them: compressed, base64'd, one event per line.

Each body is read as its request says (``Content-Encoding``, ``postData.encoding``) or
is one rejected record with a one-line reason; decompression is bounded like a gzip
input's, and every entry with records has a span saying which records it gave.
"""

from __future__ import annotations

import io
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from support import (
    JSON_STREAM,
    ONECOLLECTOR,
    compress,
    har_post,
    json_stream,
    make_event,
    write_har,
)

from audit.limits import DEFAULT_LIMITS, KIB, MIB, Limits
from audit.readers import EntrySpan, RawRecord, read_records
from audit.readers.har import BINARY_BODY, NOT_BASE64

EVENTS = [make_event("census"), make_event("usage"), make_event("error")]
#: Bond compact binary: field headers and lengths are control bytes, yet all ASCII.
BOND = b"\x2b\x01\x09\x00\x05\x1a\x0bSkype.Census\x29\x03\x00\x00\x00\x00"


def records(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[list[RawRecord], list[EntrySpan]]:
    spans: list[EntrySpan] = []
    return list(read_records(path, limits, spans)), spans


def read_one(tmp_path: Path, entry: dict[str, Any], limits: Limits = DEFAULT_LIMITS
             ) -> list[RawRecord]:
    found, _ = records(write_har(tmp_path / "capture.har", [entry]), limits)
    return found


@pytest.mark.parametrize(("header", "encoder"), [
    ("gzip", "gzip"),
    ("x-gzip", "gzip"),
    ("deflate", "deflate"),  # zlib-wrapped, as HTTP says
    ("deflate", "raw-deflate"),  # as many clients send it
    ("br", "br"),
    ("gzip, br", "gzip, br"),  # gzip applied first, so undone last
    ("GZip ,identity", "gzip"),
    ("identity", "identity"),
])
def test_each_content_encoding_is_undone(tmp_path: Path, header: str, encoder: str) -> None:
    body = compress(json_stream(EVENTS), encoder)
    found = read_one(tmp_path, har_post(body, coding=header))
    assert [r.data for r in found] == EVENTS
    assert [r.line for r in found] == [1, 2, 3]


def test_a_gzip_body_written_as_text_is_read(tmp_path: Path) -> None:
    """Some exporters write a binary body as text, one character per byte."""
    body = compress(json_stream(EVENTS), "gzip")
    found = read_one(tmp_path, har_post(body, coding="gzip", base64_body=False))
    assert [r.data for r in found] == EVENTS


def test_the_encoding_header_is_found_among_others_in_any_case(tmp_path: Path) -> None:
    entry = har_post(compress(json_stream(EVENTS), "deflate"))
    entry["request"]["headers"] += [{"name": "X-Note", "value": "gzip"},
                                    {"name": "CONTENT-ENCODING", "value": "deflate"},
                                    "not a header", {"value": "no name"}]
    assert [r.data for r in read_one(tmp_path, entry)] == EVENTS


@pytest.mark.parametrize("shape", ["stream", "array", "envelope", "object"])
def test_body_shapes_give_one_record_per_event(tmp_path: Path, shape: str) -> None:
    events = EVENTS[:1] if shape == "object" else EVENTS
    text = {"stream": json_stream(events).decode() + "\n",
            "array": json.dumps(events, indent=2),
            "envelope": json.dumps({"events": events}),
            "object": json.dumps(events[0])}[shape]
    found, spans = records(write_har(tmp_path / "c.har", [
        har_post(compress(text.encode(), "gzip"), coding="gzip")]))
    assert [r.data for r in found] == events
    assert spans == [EntrySpan(1, ONECOLLECTOR, 1, len(events))]


def test_spans_number_entries_as_the_capture_does(tmp_path: Path) -> None:
    """Entries that post nothing still count in the entry number; the URL loses its
    query (keys and identifiers travel there)."""
    path = write_har(tmp_path / "c.har", [
        {"request": {"method": "GET", "url": ONECOLLECTOR}},
        har_post(compress(json_stream(EVENTS[:2]), "gzip"), coding="gzip",
                 url=ONECOLLECTOR + "?cors=true&apikey=0a1b2c3d-secret"),
        "not an entry",
        har_post(b""),
        har_post(BOND, mime="application/bond-compact-binary"),
        har_post(json.dumps(EVENTS), mime="application/json", url="https://user:pw@h.example:8443/p#x"),
    ])
    found, spans = records(path)
    assert [r.line for r in found] == [1, 2, 3, 4, 5, 6]
    assert spans == [EntrySpan(2, ONECOLLECTOR, 1, 2), EntrySpan(5, ONECOLLECTOR, 3, 1),
                     EntrySpan(6, "https://h.example:8443/p", 4, 3)]


@pytest.mark.parametrize(("entry", "reason"), [
    (har_post(compress(json_stream(EVENTS), "gzip")[:-12], coding="gzip"),
     "not auditable: the body is not valid gzip (it ends early)"),
    (har_post(json_stream(EVENTS), coding="gzip"),
     "not auditable: the body is not valid gzip (no gzip header)"),
    (har_post(b"\x1f\x8b\x08\x00" + bytes(range(60)), coding="gzip"),
     "not auditable: the body is not valid gzip (invalid block type)"),
    (har_post(compress(json_stream(EVENTS), "gzip") + b"trailer", coding="gzip"),
     "not auditable: the body is not valid gzip (data after the end of the stream)"),
    (har_post(b"\x78\x9c" + bytes(range(40)), coding="deflate"),
     "not auditable: the body is not valid deflate (invalid stored block lengths)"),
    (har_post(compress(json_stream(EVENTS), "br")[:-4], coding="br"),
     "not auditable: the body is not valid br (it ends early)"),
    (har_post(compress(json_stream(EVENTS), "gzip"), coding="br"),
     "not auditable: the body is not valid br (corrupt stream)"),
    (har_post(compress(json_stream(EVENTS), "gzip"), coding="zstd"),
     "not auditable: Content-Encoding 'zstd' is not read (only br, deflate, gzip, "
     "x-gzip are)"),
    ({"request": {"method": "POST", "url": ONECOLLECTOR, "postData": {
        "text": "H4sI not base64!", "encoding": "base64"}}}, NOT_BASE64),
])
def test_a_body_that_does_not_decode_is_one_rejected_record(
        tmp_path: Path, entry: dict[str, Any], reason: str) -> None:
    found, spans = records(write_har(tmp_path / "c.har", [har_post(json_stream(EVENTS)),
                                                          entry]))
    assert [(r.line, r.error) for r in found] == [(1, None), (2, None), (3, None),
                                                  (4, reason)]
    assert found[3].digest and spans[1] == EntrySpan(2, ONECOLLECTOR, 4, 1)


@pytest.mark.parametrize(("body", "mime"), [
    (BOND, "application/bond-compact-binary"),  # ASCII, but control bytes
    (BOND, None),
    (bytes([0x0A, 0x8F, 0x01, 0xFF, 0xFE]) * 8, "application/json"),  # not UTF-8 at all
    (compress(bytes(range(256)) * 4, "gzip"), JSON_STREAM),  # decoded, still not text
])
def test_a_binary_body_is_one_rejected_record(tmp_path: Path, body: bytes, mime: str | None
                                              ) -> None:
    coding = "gzip" if body.startswith(b"\x1f\x8b") else None
    [record] = read_one(tmp_path, har_post(body, mime=mime, coding=coding))
    assert record.error == f"{BINARY_BODY} ({mime or 'no content type'})"


def test_a_body_bomb_is_rejected_within_the_record_limit(tmp_path: Path) -> None:
    """64 MiB of zeros in 64 KiB of gzip: reading stops past --limit record-bytes, with
    memory about that limit, and the next entry is read."""
    bomb = compress(b"\0" * (64 * MIB), "gzip")
    path = write_har(tmp_path / "c.har", [har_post(bomb, coding="gzip"),
                                          har_post(json_stream(EVENTS[:1]))])
    tracemalloc.start()
    try:
        found, spans = records(path, Limits(record_bytes=256 * KIB, compression_ratio=10**6))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(r.line, r.error) for r in found] == [
        (1, "not auditable: the gzip body decompresses to more than 256 KiB "
            "(--limit record-bytes)"), (2, None)]
    assert peak < 4 * MIB, peak
    assert [s.records for s in spans] == [1, 1]


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_a_body_bomb_is_rejected_by_the_compression_ratio(tmp_path: Path, coding: str
                                                          ) -> None:
    """16 MiB of zeros in 16 KiB (or, with br, a few bytes): well below the record limit,
    decoding stops past --limit compression-ratio (200 times the body)."""
    bomb = compress(b"\0" * (16 * MIB), coding)
    started = time.perf_counter()
    [record] = read_one(tmp_path, har_post(bomb, coding=coding))
    assert time.perf_counter() - started < 5
    assert record.error is not None
    assert record.error.startswith(f"not auditable: the {coding} body of ")
    assert record.error.endswith("decompresses to more than 200 times its size "
                                 "(--limit compression-ratio)")


def test_the_decompressed_bytes_limit_bounds_a_body_too(tmp_path: Path) -> None:
    body = compress(json_stream(EVENTS * 400), "gzip")
    [record] = read_one(tmp_path, har_post(body, coding="gzip"),
                        Limits(decompressed_bytes=64 * KIB))
    assert record.error == ("not auditable: the gzip body decompresses to more than 64 KiB "
                            "(--limit decompressed-bytes)")


def test_a_body_encoded_over_and_over_is_rejected_before_decoding(tmp_path: Path) -> None:
    """Each stage may cost up to the record limit: past four, none is undone."""
    body = json_stream(EVENTS)
    for _ in range(6):
        body = compress(body, "gzip")
    entry = har_post(body, coding="gzip, gzip")
    entry["request"]["headers"] += [{"name": "Content-Encoding", "value": "gzip"}] * 4
    [record] = read_one(tmp_path, entry)
    assert record.error == "not auditable: 6 Content-Encodings, more than the 4 undone"
    nested = har_post(compress(compress(body, "gzip"), "br"), coding="gzip,gzip,gzip, gzip, br")
    assert read_one(tmp_path, nested)[0].error == \
        "not auditable: 5 Content-Encodings, more than the 4 undone"
    four = har_post(compress(compress(json_stream(EVENTS), "gzip, gzip, deflate"), "br"),
                    coding="gzip, gzip, deflate, br")
    assert [r.data for r in read_one(tmp_path, four)] == EVENTS


def test_a_decoded_body_of_nothing_gives_no_record(tmp_path: Path) -> None:
    found, spans = records(write_har(tmp_path / "c.har", [
        har_post(compress(b"\n \n", "gzip"), coding="gzip")]))
    assert found == [] and spans == []


def test_spans_are_only_given_to_a_caller_that_asks(tmp_path: Path) -> None:
    from audit.readers import har

    data = write_har(tmp_path / "c.har", [har_post(json_stream(EVENTS))]).read_bytes()
    assert [r.line for r in har.read(io.BytesIO(data))] == [1, 2, 3]
