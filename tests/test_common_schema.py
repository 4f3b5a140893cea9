"""Shipped mappings: 1DS Common Schema captures and Application Insights envelopes audited
as they are sent, ids judged by what their Common Schema prefix says."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FIXTURES

import audit
from audit.renderers.json import report_schema

CAPTURE = FIXTURES / "dumps" / "1ds-capture.jsonl"
ID_RULES = {"census/unhashed-user-id", "census/device-id-not-random"}


def id_findings(report: audit.Report) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for f in report.findings:
        if f.rule in ID_RULES:
            found.setdefault(f.line, set()).add(f"{f.rule.split('/')[1]}:{f.field}")
    return found


def test_every_prefix_is_judged_by_what_it_says() -> None:
    report = audit.scan(inputs=str(CAPTURE), mapping="common-schema")
    assert report.summary.records_read == report.summary.records_audited == 15
    assert id_findings(report) == {
        # 1-3: s:, r:, i: random GUIDs; w:, d:, c: digests: nothing.
        4: {"unhashed-user-id:UserID"},  # c: an e-mail address, judged by its value
        5: {"device-id-not-random:DeviceID"},  # c: a serial number, judged by its value
        6: {"device-id-not-random:DeviceID"},  # m: MAC address
        7: {"device-id-not-random:DeviceID"},  # g: Windows global id
        8: {"device-id-not-random:DeviceID"},  # h: hardware id, though shaped as a GUID
        9: {"device-id-not-random:DeviceID"},  # u: OS machine id
        10: {"device-id-not-random:DeviceID", "unhashed-user-id:UserID"},  # x: Xbox ids
        11: {"device-id-not-random:DeviceID", "unhashed-user-id:UserID"},  # a:, p: PUID
        12: {"device-id-not-random:DeviceID", "unhashed-user-id:UserID"},  # e:, m: MSA id
        13: {"unhashed-user-id:UserID"},  # a: a directory account id
    }
    by_line = {f.line: f for f in report.findings if f.rule == "census/device-id-not-random"}
    assert "prefix m: says it is a MAC address" in by_line[6].message
    assert "00-1A" not in by_line[6].message  # the explanation never holds the id


def test_a_har_capture_of_the_same_events(run_cli, tmp_path: Path) -> None:
    """The capture as posted (gzip, deflate and br x-json-stream bodies, then a Bond body):
    every event audited as in the JSON Lines dump, the Bond body rejected, counts exact
    per file and per entry."""
    har = audit.scan(inputs=str(CAPTURE.with_suffix(".har")), mapping="common-schema")
    lines = audit.scan(inputs=str(CAPTURE), mapping="common-schema")
    assert id_findings(har) == id_findings(lines)
    summary = har.summary
    assert (summary.records_read, summary.records_audited, summary.records_rejected) == \
        (16, 15, 1)
    (info,) = har.run["inputs"]
    assert [(e["entry"], e["records"], e["audited"], e["rejected"]) for e in info["entries"]] \
        == [(1, 5, 5, 0), (2, 5, 5, 0), (3, 5, 5, 0), (4, 1, 0, 1)]
    assert all(e["records"] == e["audited"] + e["rejected"] for e in info["entries"])
    serial = [(f.rule, f.location) for f in har.findings if f.field == "OEMSerialNumber"]
    assert sorted(serial) == [("census/identifies-user", "entry 1, line 1"),
                              ("census/undeclared-field", "entry 1, line 1")]
    (bond,) = [f for f in har.findings if f.rule == "input/malformed-record"]
    assert "binary body" in bond.message and bond.location == "entry 4, line 1"
    # A v4 GUID behind s: is a random device id: line 1 has no device finding.
    assert not [f for f in har.findings
                if f.rule == "census/device-id-not-random" and f.line == 1]
    result = run_cli("scan", str(CAPTURE.with_suffix(".har")), "--mapping", "common-schema",
                     "--format", "json")
    assert result.code == 1  # FAIL outranks the rejected body's INCOMPLETE


def test_repeated_keys_of_a_census_event_are_audited_with_each_value() -> None:
    """Line 3 repeats cV (envelope bookkeeping, ignored) and its device model, whose
    first value names its owner: the record is audited, not rejected."""
    for dump in (CAPTURE, CAPTURE.with_suffix(".har")):
        report = audit.scan(inputs=str(dump), mapping="common-schema")
        at = sorted((f.rule, f.field) for f in report.findings if f.line == 3
                    and not f.rule.endswith("undeclared-field"))
        assert at == [("census/identifies-user", "DeviceModel"),
                      ("input/duplicate-key", "cV"),
                      ("input/duplicate-key", "ext.device.model")]
        assert report.summary.records_audited == 15


def test_envelope_routing_and_part_c() -> None:
    report = audit.scan(inputs=str(CAPTURE), mapping="common-schema")
    rules = {f.rule for f in report.findings}
    # The usage and error events are routed by name; their part C fields are audited
    # under their own names (IMSent, ErrorCode are declared: no finding for them).
    assert {"usage/undeclared-field", "error/undeclared-field"} <= rules
    fields = {f.field for f in report.findings if f.rule.endswith("undeclared-field")}
    assert not fields & {"IMSent", "ErrorCode", "client", "tenant", "data.IMSent"}
    # Bookkeeping is ignored, not audited: no finding names it.
    assert not fields & {"ver", "iKey", "cV", "flags", "ext.sdk.ver",
                         "ext.metadata.f.SignInAttempts"}
    assert report.run["mapping"]["name"] == "common-schema"
    assert report.run["mapping"]["sha256"]


def test_without_the_prefix_kind_a_mac_shaped_device_id_is_judged_by_value(
        tmp_path: Path) -> None:
    """A dump cannot forge the hidden prefix field: a NUL-led name is renamed, and
    reported as the undeclared field it is."""
    event = {"category": "census", "time": "2026-03-02T10:00:00Z", "AppName": "Teams",
             "DeviceModel": "Surface", "OSName": "Windows", "OSVersion": "10.0",
             "UserLanguage": "en-US", "UserID": "E296D735-4F36-4E18-7C3B-52E1A02A0164",
             "DeviceID": "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
             "\u0000prefix:DeviceID": "device:s"}
    dump = tmp_path / "forged.jsonl"
    dump.write_text(json.dumps(event) + "\n", "utf-8")
    report = audit.scan(inputs=str(dump))
    assert [(f.rule, f.field) for f in report.findings] == [
        ("census/undeclared-field", "\\x00prefix:DeviceID")]


AI_EVENTS = [
    {"name": "Microsoft.ApplicationInsights.4b6e.Exception", "time": "2026-03-02T10:00:00Z",
     "iKey": "4b6e9c2a", "tags": {"ai.user.authUserId": "amos.marble@contoso.com",
                                  "ai.device.id": "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
                                  "ai.internal.sdkVersion": "javascript:3.1.0"},
     "data": {"baseType": "ExceptionData", "baseData": {
         "ver": 2, "exceptions": [{"typeName": "TypeError", "message": "x is undefined"}],
         "properties": {"client": "desktop", "tenant": "contoso.com", "platform": "web"}}}},
    {"name": "Microsoft.ApplicationInsights.4b6e.Event", "time": "2026-03-02T10:01:00Z",
     "iKey": "4b6e9c2a", "tags": {"ai.user.id": "Kq3x9", "ai.internal.sdkVersion": "js:3"},
     "data": {"baseType": "EventData", "baseData": {
         "ver": 2, "name": "MessageSent",
         "properties": {"client": "desktop", "tenant": "contoso.com"},
         "measurements": {"IMSent": 3}}}},
]


def test_application_insights_exceptions_are_error_data(tmp_path: Path) -> None:
    dump = tmp_path / "ai.jsonl"
    dump.write_text("".join(json.dumps(e) + "\n" for e in AI_EVENTS), "utf-8")
    report = audit.scan(inputs=str(dump), mapping="application-insights")
    assert report.summary.records_audited == 2
    routed = {f.line: f.category for f in report.findings}
    assert routed.get(1) in (None, "error") and routed.get(2) in (None, "usage")
    outcomes = {o.rule: o for o in report.outcomes}
    assert outcomes["error/schema-violation"].status.value != "not_applicable"
    assert outcomes["usage/schema-violation"].status.value != "not_applicable"
    fields = {f.field for f in report.findings}
    assert "IMSent" not in fields and "tags.ai.internal.sdkVersion" not in fields


def test_report_names_the_mapping_and_what_it_ignores(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = run_cli("scan", str(CAPTURE), "--mapping", "common-schema", "--format", "json,html",
                     out=out)
    assert result.code == 1
    report = json.loads((out / "report.json").read_text("utf-8"))
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    assert report["run"]["mapping"]["name"] == "common-schema"
    assert "ext.sdk.ver" in report["run"]["mapping"]["ignore"]
    html = (out / "report.html").read_text("utf-8")
    assert "Field mapping" in html and "ext.metadata.*" in html


def test_mappings_command(run_cli) -> None:
    listed = run_cli("mappings", "list")
    assert listed.code == 0
    assert "common-schema" in listed.out and "application-insights" in listed.out
    shown = run_cli("mappings", "show", "common-schema")
    assert shown.code == 0 and "cs-id: device" in shown.out
    assert run_cli("mappings", "validate", "application-insights").code == 0
    missing = run_cli("scan", str(CAPTURE), "--mapping", "common-schmea")
    assert missing.code == 2 and "no shipped mapping named 'common-schmea'" in missing.err


RANDOM_DEVICE = st.sampled_from("src")  # s:, r:, c: before a random GUID pass
NOT_RANDOM = st.sampled_from("mghuxaew")
ACCOUNT = st.sampled_from("xpma")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(RANDOM_DEVICE, st.uuids(version=4)), min_size=1, max_size=12),
       st.data())
def test_injected_prefixes_are_found_where_they_are(tmp_path_factory, devices, data) -> None:
    events = []
    for prefix, guid in devices:
        events.append({"ver": "4.0", "name": "T.Census", "time": "2026-03-02T10:00:00Z",
                       "ext": {"app": {"name": "Teams"}, "device": {"model": "Surface",
                                                                    "localId": f"{prefix}:{guid}"},
                               "os": {"name": "Windows", "ver": "10.0"},
                               "user": {"locale": "en-US",
                                        "localId": f"w:{uuid.uuid4().hex}"}}})
    at = data.draw(st.integers(0, len(events) - 1))
    bad_device = data.draw(st.booleans())
    if bad_device:
        events[at]["ext"]["device"]["localId"] = f"{data.draw(NOT_RANDOM)}:{uuid.uuid4()}"
    else:
        events[at]["ext"]["user"]["localId"] = f"{data.draw(ACCOUNT)}:{uuid.uuid4().hex[:16]}"
    dump = tmp_path_factory.mktemp("cs") / "capture.jsonl"
    dump.write_text("".join(json.dumps(e) + "\n" for e in events), "utf-8")
    report = audit.scan(inputs=str(dump), mapping="common-schema")
    found = id_findings(report)
    rule = "device-id-not-random:DeviceID" if bad_device else "unhashed-user-id:UserID"
    assert found == {at + 1: {rule}}
