"""Properties of the identity rules over generated events.

1. Clean, practices-like census, usage and error events (GUID-shaped hashed
   UserIDs, v4 DeviceIDs, EN-US, version strings, counts, iPhone, HRESULTs,
   the practices' thread id) raise none of the identity rules.
2. A directory identifier injected into a random census field, in a random
   encoding or digest form, is found by census/identifies-user (or, in UserID,
   census/unhashed-user-id) at the right line and field, and the explanation
   names the form.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import scan_events

import audit

ROOT = Path(__file__).resolve().parents[2]
DIRECTORY = ROOT / "fixtures" / "directory.csv"
IDENTITY_RULES = {
    "census/unhashed-user-id",
    "census/device-id-not-random",
    "census/identifies-user",
    "census/identifies-organization",
    "usage/identifies-user",
    "error/secret-in-error-data",
    "error/cleartext-user-id-at-rest",
}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _time_based(guid: uuid.UUID) -> bool:
    """A digest whose bits read as a version 1 or 6 GUID (one in 32) may hold a plausible
    time, and then rightly reads as no hash; the generators leave such digests out."""
    return guid.variant == uuid.RFC_4122 and guid.version in (1, 6)


hex_guid = (
    st.binary(min_size=16, max_size=16)
    .map(lambda b: uuid.UUID(bytes=hashlib.sha256(b).digest()[:16]))
    .filter(lambda g: not _time_based(g))
    .map(lambda g: str(g).upper())
)
v4_guid = st.binary(min_size=16, max_size=16).map(
    lambda b: str(uuid.UUID(bytes=hashlib.sha256(b"d" + b).digest()[:16], version=4)).upper()
)
user_and_device = st.binary(min_size=16, max_size=16).map(
    lambda b: (
        str(uuid.UUID(bytes=hashlib.sha256(b).digest()[:16])).upper(),
        str(uuid.UUID(bytes=hashlib.sha256(b"d" + b).digest()[:16], version=4)).upper(),
    )
).filter(lambda pair: not _time_based(uuid.UUID(pair[0])))
versions = st.sampled_from(["8.3", "17.4.1", "10.0.2.15", "10.0.22631", "16.0.4483.1000", "14"])
languages = st.sampled_from(["EN-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "zh-Hans-CN"])
models = st.sampled_from(["iPhone", "Surface Pro 9", "Latitude 7440", "MacBookPro18,3", "Pixel 8"])
times = st.integers(0, 60 * 86400).map(
    lambda s: f"2026-03-{1 + s // 86400 % 28:02d}T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:00Z"
)


@st.composite
def census_event(draw: st.DrawFn) -> dict[str, Any]:
    attempts = draw(st.integers(0, 50))
    return {
        "category": "census",
        "time": draw(times),
        "AppName": "iPhoneSkype",
        "DeviceModel": draw(models),
        "OSName": "iPhoneiOS",
        "OSVersion": draw(versions),
        "UserLanguage": draw(languages),
        # One device per user: a DeviceID shared by many users is a finding of its own.
        **dict(zip(("UserID", "DeviceID"), draw(user_and_device), strict=True)),
        "SignInAttempts": attempts,
        "SignInFailures": draw(st.integers(0, attempts)),
    }


@st.composite
def usage_event(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "category": "usage",
        "time": draw(times),
        "client": "desktop",
        "tenant": draw(st.sampled_from(["contoso.com", "fabrikam.com", "northwindtraders.com"])),
        "IMSent": draw(st.integers(0, 500)),
        "IMReceived": draw(st.integers(0, 500)),
        "MeetingJoinAttempts": 5,
        "MeetingJoinSuccess": 4,
        "CallMinutes": draw(st.sampled_from([0, 5, 12.5, 30])),
        "FederationPartner": draw(st.sampled_from(["Microsoft.com", "adatum.com", "contoso.com"])),
    }


@st.composite
def error_event(draw: st.DrawFn) -> dict[str, Any]:
    user = draw(st.sampled_from(["amosmarble", "priya.k"]))
    return {
        "category": "error",
        "time": draw(times),
        "client": "desktop",
        "platform": "windows",
        "tenant": "contoso.com",
        "MessageDirection": "Incoming",
        "ConversationState": "Idle",
        "ConversationThreadID": "AdDO8hsJqilU93hQHC3OZaPR2saEA==",
        "ErrorCode": draw(st.sampled_from(["-2147467259", "0x80004005", "-2147024891", "503"])),
        "UserID": user,
        "ClientIP": f"192.0.2.{draw(st.integers(1, 254))}",
        "SipUri": f"sip:{user}@contoso.com",
        "ErrorLog": draw(
            st.sampled_from(
                [
                    "SIP/2.0 408 Request Timeout while registering",
                    "Media stack: ICE negotiation failed after 3 candidates",
                ]
            )
        ),
    }


def _scan(events: list[Any], **kwargs: Any) -> audit.Report:
    report: audit.Report = scan_events(events, identities=str(DIRECTORY), **kwargs)
    return report


@SETTINGS
@given(st.lists(st.one_of(census_event(), usage_event(), error_event()), min_size=1, max_size=12))
def test_clean_events_raise_no_identity_rule(events: list[dict[str, Any]]) -> None:
    report = _scan(events)
    found = [(f.rule, f.line, f.field) for f in report.findings if f.rule in IDENTITY_RULES]
    assert found == []


def _digest(alg: str, text: str) -> str:
    return hashlib.new(alg, text.encode("utf-8")).hexdigest()


# (identity kind, value) of the directory, and how each may be disguised.
IDENTITIES = [
    ("email", "amos.marble@contoso.com"),
    ("username", "amosmarble"),
    ("upn", "amosm@contoso.onmicrosoft.com"),
    ("object_id", "7b9a1c52-3e44-4d6f-9a0b-2c6d8e1f4a37"),
    ("phone", "+14255550123"),
    ("device_serial", "C02XK1JHJG5J"),
]


def _forms(kind: str, value: str) -> list[tuple[str, str]]:
    """(disguised text, the form named in the explanation)."""
    out = [
        (value, kind),
        *([(urllib.parse.quote(value, safe=""), f"url({kind})")]
          if urllib.parse.quote(value, safe="") != value else []),
        (base64.b64encode(value.encode()).decode(), f"base64({kind})"),
        (json.dumps({"v": value}), kind),
    ]
    if value.upper() != value:
        out.append((value.upper(), f"casefold({kind})"))
    sources = [(value, kind)]
    if value.lower() != value:
        sources.append((value.lower(), f"lower({kind})"))
    for src, name in sources:
        for alg in ("md5", "sha1", "sha256", "sha512"):
            hx = _digest(alg, src)
            out.append((hx, f"{alg}({name})"))
            g = f"{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:32]}"
            out.append((g, f"guid({alg}({name}))"))
            out.append((_digest(alg, hx), f"{alg}({alg}({name}))"))
    return out


DISGUISES = [(kind, text, form) for kind, value in IDENTITIES for text, form in _forms(kind, value)]
CENSUS_FIELDS = ["AppName", "DeviceModel", "OSName", "UserID", "Comment", "ext.user.localId"]


@SETTINGS
@given(
    st.lists(census_event(), min_size=1, max_size=8),
    st.data(),
    st.sampled_from(DISGUISES),
    st.sampled_from(CENSUS_FIELDS),
)
def test_injected_identity_is_found_with_its_form(
    events: list[dict[str, Any]], data: st.DataObject, disguise: tuple[str, str, str], field: str
) -> None:
    _kind, text, form = disguise
    at = data.draw(st.integers(0, len(events) - 1))
    events[at] = dict(events[at])
    if "." in field:
        head, tail = field.split(".", 1)
        events[at][head] = {tail.split(".")[0]: {tail.split(".")[1]: text}}
    else:
        events[at][field] = text
    report = _scan(events)
    rule = "census/unhashed-user-id" if field == "UserID" else "census/identifies-user"
    line = at + 1
    hits = [f for f in report.findings if f.rule == rule and f.line == line and f.field == field]
    assert hits, [(f.rule, f.line, f.field, f.explanation) for f in report.findings]
    explanation = hits[0].explanation or ""
    pattern_entity = hits[0].detector in ("EMAIL", "PHONE", "SIP_URI", "hashed-id")
    if pattern_entity:  # found by a pattern: an encoded value must say how it was decoded
        if form.startswith(("url(", "base64(")):
            assert "decoding" in explanation, explanation
    else:
        assert f"found as {form}" in explanation or f"{form} of a known identity" in explanation
    assert text not in (hits[0].message or "")
    others = {f.line for f in report.findings if f.rule in IDENTITY_RULES}
    assert others <= {line}
