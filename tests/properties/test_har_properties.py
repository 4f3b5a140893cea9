"""Hypothesis: events split across the entries of a capture, each body shaped and
encoded its own way, are each read once, and each one's location points back to the
entry and line it was posted at."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import compress, har_post, json_stream, make_event, write_har

import audit
from audit.locations import Locator, entry_infos
from audit.readers import EntrySpan
from audit.readers.har import read

CODINGS = [None, "gzip", "deflate", "raw-deflate", "br", "gzip, br", "identity"]
SHAPES = ["stream", "array", "envelope", "object"]
PLACE = re.compile(r"entry (\d+), line (\d+)")
LEAK = "amos.marble@contoso.com"
BOND = b"\x2b\x01\x09\x00\x05\x1a\x0bSkype.Census\x29\x03"

#: one entry: a GET, a binary body, or (shape, coding, base64 or text, leaks per event)
_POSTED = st.tuples(st.sampled_from(SHAPES), st.sampled_from(CODINGS), st.booleans(),
                    st.lists(st.booleans(), min_size=1, max_size=5))
ENTRIES = st.lists(st.one_of(st.just("get"), st.just("binary"), _POSTED, _POSTED),
                   min_size=1, max_size=8)


def body_of(shape: str, events: list[dict[str, Any]]) -> bytes:
    if shape == "stream":
        return json_stream(events)
    if shape == "object" and len(events) == 1:
        return json.dumps(events[0]).encode()
    if shape == "envelope":
        return json.dumps({"events": events}).encode()
    return json.dumps(events, indent=1).encode()


def capture(plan: list[Any]) -> tuple[list[dict[str, Any]], dict[tuple[int, int], Any]]:
    """HAR entries for ``plan``, and what each (entry, line) holds: an event, or
    "rejected" for a binary body."""
    entries: list[dict[str, Any]] = []
    expected: dict[tuple[int, int], Any] = {}
    serial = 0
    for number, item in enumerate(plan, 1):
        if item == "get":
            entries.append({"request": {"method": "GET", "url": "https://example.com/"}})
            continue
        if item == "binary":
            entries.append(har_post(BOND, mime="application/bond-compact-binary"))
            expected[(number, 1)] = "rejected"
            continue
        shape, coding, as_base64, leaks = item
        events = []
        for k, leak in enumerate(leaks, 1):
            serial += 1
            event = make_event("census", SignInAttempts=serial,
                               **({"DeviceModel": LEAK} if leak else {}))
            events.append(event)
            expected[(number, k)] = event
        body = body_of(shape, events)
        header = "deflate" if coding == "raw-deflate" else coding
        packed = compress(body, coding) if coding else body
        entries.append(har_post(packed if coding or as_base64 else body.decode(),
                                coding=header, base64_body=as_base64 or not coding))
    return entries, expected


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ENTRIES)
def test_every_event_is_read_once_and_located_where_it_was_posted(plan: list[Any]) -> None:
    entries, expected = capture(plan)
    data = json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()
    spans: list[EntrySpan] = []
    records = list(read(io.BytesIO(data), spans=spans))
    assert [r.line for r in records] == list(range(1, len(records) + 1))
    places = Locator.of(entry_infos(spans, [])).locate(np.asarray([r.line for r in records]))
    found: dict[tuple[int, int], Any] = {}
    for record, place in zip(records, places, strict=True):
        match = PLACE.fullmatch(place)
        assert match, place
        key = (int(match[1]), int(match[2]))
        assert key not in found
        found[key] = record.data if record.error is None else "rejected"
    assert found == expected


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ENTRIES, st.integers(min_value=1, max_value=7))
def test_a_scan_places_each_leak_and_counts_each_entry(tmp_path_factory: Any,
                                                       plan: list[Any], chunk_rows: int
                                                       ) -> None:
    entries, expected = capture(plan)
    path = write_har(Path(tmp_path_factory.mktemp("har")) / "c.har", entries)
    report = audit.scan(inputs=str(path), chunk_rows=chunk_rows)
    [info] = report.run["inputs"]
    assert info["records"] == len(expected) == report.summary.records_read
    assert all(e["records"] == e["audited"] + e["rejected"] for e in info["entries"])
    assert sum(e["rejected"] for e in info["entries"]) == \
        sum(v == "rejected" for v in expected.values())
    leaks = sorted(f.location for f in report.findings if f.rule == "census/identifies-user")
    assert leaks == sorted(f"entry {e}, line {k}" for (e, k), v in expected.items()
                           if isinstance(v, dict) and v.get("DeviceModel") == LEAK)
