"""Properties of identifiers in undeclared fields (made-up values throughout).

1. Clean census and usage events with undeclared fields of benign values (versions,
   counts, booleans, HRESULTs, times as numbers, digests, random GUIDs under neutral
   names) raise no identifying rule: only ``<category>/undeclared-field``.
2. One identifier injected into an undeclared field of one event (a serial number under
   its name, a product key, an XUID, a version 1 GUID, an e-mail address in hex) is
   found by the category's identifying rule at that line and field, and nowhere else.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import scan_events

from audit.detectors.accounts import XUID_MAX, XUID_MIN
from audit.detectors.hardware import KEY_ALPHABET

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IDENTIFYING = {"census/identifies-user", "census/identifies-organization", "usage/identifies-user"}

guids = st.uuids(version=4).map(str)
times = st.integers(0, 300 * 86400).map(
    lambda s: f"2026-{1 + s // 86400 // 28 % 10:02d}-{1 + s // 86400 % 28:02d}T"
              f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}:00Z")


@st.composite
def census_event(draw: st.DrawFn) -> dict[str, Any]:
    attempts = draw(st.integers(0, 50))
    return {
        "category": "census", "time": draw(times), "AppName": "Teams",
        "DeviceModel": draw(st.sampled_from(["Surface Pro 9", "Latitude 7440", "iPhone"])),
        "OSName": "Windows", "OSVersion": draw(st.sampled_from(["10.0.22631", "8.3", "14"])),
        "UserLanguage": draw(st.sampled_from(["EN-US", "de-DE", "ja-JP"])),
        "UserID": "E296D735-4F36-4E18-7C3B-52E1A02A0164", "DeviceID": draw(guids).upper(),
        "SignInAttempts": attempts, "SignInFailures": draw(st.integers(0, attempts)),
    }


@st.composite
def usage_event(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "category": "usage", "time": draw(times), "client": "desktop",
        "tenant": draw(st.sampled_from(["contoso.com", "fabrikam.com"])),
        "IMSent": draw(st.integers(0, 500)), "IMReceived": draw(st.integers(0, 500)),
        "MeetingJoinAttempts": 5, "MeetingJoinSuccess": 4, "CallMinutes": 30,
        "FederationPartner": "Microsoft.com",
    }


# Neutral names (no hint matches them) with values of their sort.
versions = st.tuples(st.integers(10, 30), st.integers(0, 9), st.integers(256, 99_999),
                     st.integers(0, 9_999)).map(lambda t: ".".join(map(str, t)))
hresults = st.one_of(st.integers(-(2**31), -(2**16) - 1).map(str),
                     st.integers(0x80000000, 0x8FFFFFFF).map(lambda n: f"0x{n:08X}"))
BENIGN: dict[str, st.SearchStrategy[Any]] = {
    "data.AppBuild": versions,
    "LastError": hresults,
    "data.RamMB": st.integers(0, 1 << 20),
    "CrashCount": st.integers(0, 50),
    "IsFirstRun": st.booleans(),
    "data.TimestampMs": st.integers(1_600_000_000_000, 1_900_000_000_000),
    "EventId": guids,
    "data.CorrelationId": guids.map(str.upper),
    "Digest": st.binary(min_size=16, max_size=16).map(lambda b: hashlib.sha256(b).hexdigest()),
    "ThreadId": st.just("AdDO8hsJqilU93hQHC3OZaPR2saEA=="),
    "data.Flavor": st.sampled_from(["Release", "x64", "Stable", "Ring3"]),
}
benign_fields = st.dictionaries(st.sampled_from(sorted(BENIGN)), st.none(), max_size=5)


def _with_benign(draw: st.DrawFn, event: dict[str, Any]) -> dict[str, Any]:
    extra = {name: draw(BENIGN[name]) for name in draw(benign_fields)}
    return {**event, **extra}


@st.composite
def events_with_benign_fields(draw: st.DrawFn) -> list[dict[str, Any]]:
    base = draw(st.lists(st.one_of(census_event(), usage_event()), min_size=1, max_size=10))
    return [_with_benign(draw, e) for e in base]



@SETTINGS
@given(events_with_benign_fields())
def test_benign_undeclared_values_identify_no_one(events: list[dict[str, Any]]) -> None:
    report = scan_events(events)
    found = [(f.rule, f.line, f.field, f.explanation) for f in report.findings
             if f.rule in IDENTIFYING]
    assert found == []
    undeclared = {(f.line, f.field) for f in report.findings
                  if f.rule.endswith("/undeclared-field")}
    expected = {(i + 1, k) for i, e in enumerate(events) for k in e if k in BENIGN}
    assert undeclared == expected


_KEY_CHARS = sorted(KEY_ALPHABET)
_SERIAL_CHARS = "BCDFGHJKLMNPQRSTVWXYZ0123456789"
_GREGORIAN = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 to 1970-01-01


def _v1(seconds: int, clock: int, node: int) -> str:
    ticks = seconds * 10_000_000 + _GREGORIAN
    return str(uuid.UUID(fields=(ticks & 0xFFFFFFFF, ticks >> 32 & 0xFFFF,
                                 0x1000 | ticks >> 48 & 0x0FFF, 0x80 | clock >> 8 & 0x3F,
                                 clock & 0xFF, node)))


serials = st.tuples(st.text(_SERIAL_CHARS[:21], min_size=3, max_size=6),
                    st.text(_SERIAL_CHARS[21:], min_size=3, max_size=6)).flatmap(
    lambda parts: st.permutations(list(parts[0] + parts[1])).map("".join)
).filter(lambda s: len(set(s)) >= 4)
product_keys = st.lists(st.sampled_from(_KEY_CHARS), min_size=25, max_size=25).filter(
    lambda cs: len(set(cs)) >= 8 and any(c.isdigit() for c in cs) and any(c.isalpha() for c in cs)
).map(lambda cs: "-".join("".join(cs[i:i + 5]) for i in range(0, 25, 5)))
xuids = st.integers(XUID_MIN, XUID_MAX)
v1_guids = st.builds(_v1, st.integers(1_200_000_000, 1_750_000_000), st.integers(0, 1 << 14),
                     st.integers(1, (1 << 48) - 2).map(lambda n: n & ~(1 << 40)).filter(bool))
hex_emails = st.tuples(st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12),
                       st.sampled_from(["contoso.com", "fabrikam.com", "example.org"])).map(
    lambda t: f"{t[0]}@{t[1]}".encode().hex())

# (kind of identifier, field names it is put under, values, entity that finds it)
INJECTIONS: list[tuple[str, list[str], st.SearchStrategy[Any], set[str]]] = [
    ("serial", ["SerialNumber", "data.bios.SerialNumber"], serials, {"DEVICE_SERIAL"}),
    ("product key", ["Note", "data.Licence"], product_keys, {"PRODUCT_KEY"}),
    ("xuid", ["Player", "data.Owner"], xuids, {"XUID"}),
    ("xuid text", ["Player", "data.Owner"], xuids.map(str), {"XUID"}),
    ("v1 guid", ["Session", "data.Blob"], v1_guids, {"GUID_V1"}),
    ("hex e-mail", ["Debug", "data.Blob"], hex_emails, {"EMAIL"}),
]


@SETTINGS
@given(events_with_benign_fields(), st.data(), st.sampled_from(INJECTIONS))
def test_an_injected_identifier_is_found_at_its_record_and_field(
    events: list[dict[str, Any]], data: st.DataObject,
    injection: tuple[str, list[str], st.SearchStrategy[Any], set[str]],
) -> None:
    _kind, names, values, entities = injection
    at = data.draw(st.integers(0, len(events) - 1))
    field = data.draw(st.sampled_from(names))
    value = data.draw(values)
    events[at] = {**events[at], field: value}
    report = scan_events(events)
    rule = f"{events[at]['category']}/identifies-user"
    hits = [f for f in report.findings if f.rule in IDENTIFYING]
    assert [(f.rule, f.line, f.field) for f in hits] == [(rule, at + 1, field)], \
        [(f.rule, f.line, f.field, f.explanation) for f in hits]
    assert hits[0].detector in entities
    assert str(value) not in (hits[0].message or "")
    undeclared = {(f.line, f.field) for f in report.findings
                  if f.rule.endswith("/undeclared-field")}
    assert (at + 1, field) in undeclared
