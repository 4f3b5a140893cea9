"""Properties of national phone numbers and the event's locale (made-up numbers).

1. A phone number written in the national format of the event's region (its
   ``UserLanguage``), put into a free-text field of one census event, is found as PHONE
   by census/identifies-user at that line and field, and nowhere else.
2. Clean census events whose free text carries HRESULTs, versions, build numbers, GUIDs
   and epoch times raise no identifying rule, whatever their locale.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import scan_events

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IDENTIFYING = {"census/identifies-user", "census/identifies-organization"}
LOCALES = ["de-DE", "fr-FR", "tr-TR", "ja-JP", "en-GB", "nl-NL", "es-ES", "it-IT", "pl-PL",
           "sv-SE", "pt-BR", "en-US"]
_TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


def _census(locale: str, note: str) -> dict[str, Any]:
    return {"category": "census", "time": "2026-03-01T04:10:23Z", "AppName": "Teams",
            "DeviceModel": "Surface Pro 9", "OSName": "Windows", "OSVersion": "10.0.22631",
            "UserLanguage": locale, "UserID": "E296D735-4F36-4E18-7C3B-52E1A02A0164",
            "DeviceID": "7A1DC347-5106-450E-A2D2-9070447521C9", "SignInAttempts": 2,
            "SignInFailures": 0, "Note": note}


@st.composite
def national_number(draw: st.DrawFn, region: str) -> str:
    """A valid number of ``region`` in its national format: the region's example number
    with its last four digits drawn."""
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(_TYPES)))
    assert example is not None
    digits = str(example.national_number)
    example.national_number = int(digits[:-4] + f"{draw(st.integers(0, 9999)):04d}")
    if not phonenumbers.is_valid_number(example):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


benign_notes = st.one_of(
    st.integers(-(2**31), -(2**16) - 1).map(lambda n: f"failed with {n}"),
    st.integers(0x80000000, 0x8FFFFFFF).map(lambda n: f"hr=0x{n:08X}"),
    st.tuples(st.integers(10, 30), st.integers(0, 9), st.integers(256, 99_999),
              st.integers(0, 9_999)).map(lambda t: "build " + ".".join(map(str, t))),
    st.uuids(version=4).map(lambda u: f"session {u} ended"),
    st.integers(1_600_000_000_000, 1_900_000_000_000).map(lambda t: f"at {t} ms"),
    st.integers(1_600_000_000, 1_900_000_000).map(lambda t: f"ts={t}"),
    st.integers(0, 10_000).map(lambda n: f"{n} messages in 3 chats"),
)



@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(LOCALES), benign_notes), min_size=1, max_size=8))
def test_clean_notes_identify_no_one(rows: list[tuple[str, str]]) -> None:
    report = scan_events([_census(locale, note) for locale, note in rows])
    assert [(f.line, f.field, f.explanation) for f in report.findings
            if f.rule in IDENTIFYING] == []


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(LOCALES), benign_notes), min_size=1, max_size=6),
       st.data())
def test_a_national_number_is_found_in_its_events_region(
    rows: list[tuple[str, str]], data: st.DataObject,
) -> None:
    events = [_census(locale, note) for locale, note in rows]
    at = data.draw(st.integers(0, len(events) - 1))
    region = events[at]["UserLanguage"][-2:]
    number = data.draw(national_number(region))
    events[at]["Note"] = f"call me back on {number} please"
    report = scan_events(events)
    hits = [(f.rule, f.line, f.field, f.detector) for f in report.findings
            if f.rule in IDENTIFYING]
    assert hits == [("census/identifies-user", at + 1, "Note", "PHONE")], (number, hits)
