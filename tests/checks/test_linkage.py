"""census/linkable-to-user: a census pseudonym in another category's event beside a
cleartext identity links every census record of it."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FIXTURES, make_event, write_jsonl

import audit

RULE_ID = "census/linkable-to-user"
CASE = FIXTURES / "cases" / "census" / "linkable-to-user" / "events.jsonl"
HASHED = "E296D735-4F36-4E18-7C3B-52E1A02A0164"


def _device(rng: random.Random) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4)).upper()


def _error(**fields: Any) -> dict[str, Any]:
    return make_event("error", client="desktop", tenant="contoso.com", platform="windows",
                      **fields)


def _linked(report: audit.Report) -> list[tuple[int, str | None]]:
    return [(f.line, f.field) for f in report.findings if f.rule == RULE_ID]


def test_the_case_names_the_other_record_and_masks_the_identity() -> None:
    report = audit.scan(inputs=str(CASE), jobs=1)
    found = [f for f in report.findings if f.rule == RULE_ID]
    by_field = {f.field: f for f in found}
    device = by_field["DeviceID"].explanation
    assert f"is also in error event {CASE}:9 (field DeviceID) beside cleartext UserID " in device
    assert "amosmarble" not in device and "amosmarble" not in (by_field["DeviceID"].evidence or "")
    user = by_field["UserID"].explanation
    assert f"is also in usage event {CASE}:10 (field UserID) beside cleartext tenant " in user
    assert "contoso" not in user
    summary = next(e for e in report.extras["reidentification"] if e["rule"] == RULE_ID)
    assert summary["devices"] == 4 and summary["devices_linked"] == 2
    assert summary["records_linked"] == 4
    assert summary["by_field"] == {"DeviceID": 2, "UserID": 2}
    assert summary["by_category"] == {"error": 2, "usage": 2}


def test_a_hashed_user_id_is_no_identity_but_a_sip_uri_beside_it_is(tmp_path: Path) -> None:
    rng = random.Random(3)
    devices = [_device(rng) for _ in range(3)]
    events = [make_event("census", DeviceID=d, UserID=_device(rng)) for d in devices]
    # Meetings App reports (a pool, no tenant) whose only id is a hashed UserID.
    events.append(make_event("error", UserID=HASHED, DeviceID=devices[0]))
    events.append(make_event("error", DeviceID=devices[1]))
    quiet = audit.scan(inputs=str(write_jsonl(tmp_path / "a.jsonl", events)), jobs=1)
    assert _linked(quiet) == []
    events.append(make_event("error", UserID=HASHED, SipUri="sip:amos.marble@contoso.com",
                             DeviceID=devices[2].lower()))  # the same GUID in small letters
    loud = audit.scan(inputs=str(write_jsonl(tmp_path / "b.jsonl", events)), jobs=1)
    found = [f for f in loud.findings if f.rule == RULE_ID]
    assert [(f.line, f.field) for f in found] == [(3, "DeviceID")]
    assert "beside cleartext SipUri" in found[0].explanation
    assert "amos" not in found[0].explanation


def test_the_tenant_of_an_error_report_links_too(tmp_path: Path) -> None:
    events = [make_event("census", UserID=_device(random.Random(4))),
              _error(UserID=HASHED, DeviceID=make_event("census")["DeviceID"])]
    report = audit.scan(inputs=str(write_jsonl(tmp_path / "t.jsonl", events)), jobs=1)
    found = [f for f in report.findings if f.rule == RULE_ID]
    assert [(f.line, f.field) for f in found] == [(1, "DeviceID")]
    assert "beside cleartext tenant" in found[0].explanation


def test_a_census_user_id_in_error_data_links_through_another_identity(tmp_path: Path) -> None:
    """The census's hashed UserID sent as the error UserID: that field is then no
    identity, but the SIP URI beside it is."""
    events = [make_event("census"), _error(UserID=HASHED, SipUri="sip:priya.k@fabrikam.com")]
    report = audit.scan(inputs=str(write_jsonl(tmp_path / "c.jsonl", events)), jobs=1)
    assert _linked(report) == [(1, "UserID")]


@st.composite
def traffic(draw: Any) -> tuple[list[dict[str, Any]], list[int], int]:
    """Census records of some devices and error reports with cleartext identities that
    carry no pseudonym; then some devices' DeviceIDs copied into some error reports.
    The events, the census lines of the copied devices, a chunk size."""
    rng = random.Random(draw(st.integers(0, 1 << 30)))
    devices = [_device(rng) for _ in range(draw(st.integers(1, 8)))]
    events: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(len(devices), 30))):
        kind = draw(st.sampled_from(["census", "error", "usage"]))
        if kind == "census":
            events.append(make_event("census", DeviceID=draw(st.sampled_from(devices))))
        elif kind == "error":
            events.append(_error(UserID=draw(st.sampled_from(["amosmarble", "priya.k"])),
                                 ClientIP=f"192.0.2.{rng.randint(1, 254)}"))
        else:
            events.append(make_event("usage"))
    events.extend(make_event("census", DeviceID=d) for d in devices)  # each seen once
    errors = [i for i, e in enumerate(events) if e["category"] == "error"]
    leaked: set[str] = set()
    if errors:
        for i in draw(st.sets(st.sampled_from(errors), max_size=3)):
            device = draw(st.sampled_from(devices))
            events[i] = {**events[i], draw(st.sampled_from(["DeviceID", "ext.device.id"])):
                         device}
            leaked.add(device)
    lines = [i + 1 for i, e in enumerate(events)
             if e["category"] == "census" and e["DeviceID"] in leaked]
    return events, lines, draw(st.integers(1, len(events)))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(traffic())
def test_exactly_the_census_records_of_leaked_devices(tmp_path_factory: Any, case: Any) -> None:
    events, lines, chunk_rows = case
    dump = write_jsonl(tmp_path_factory.mktemp("link") / "dump.jsonl", events)
    report = audit.scan(inputs=str(dump), chunk_rows=chunk_rows, jobs=1)
    assert _linked(report) == [(line, "DeviceID") for line in lines]
