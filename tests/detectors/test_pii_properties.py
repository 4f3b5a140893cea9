"""Hypothesis properties of the PII detectors on made-up values: an id of a checked
format put into free text is found; benign telemetry values (HRESULTs, versions,
builds, GUIDs, epoch times, base64 thread ids, counts) are no phone, id, name or account,
whatever region the event's locale gives."""

from __future__ import annotations

import base64
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.pl import pesel

from audit.detectors.accounts import ACCOUNT_ID
from audit.detectors.contact import PHONE
from audit.detectors.names import PERSON_NAME
from audit.detectors.national import NATIONAL_ID
from audit.detectors.payment import CARD_NUMBER

versions = st.tuples(st.integers(1, 30), st.integers(0, 9), st.integers(0, 99_999),
                     st.integers(0, 9_999)).map(lambda t: ".".join(map(str, t)))
benign = st.one_of(
    st.integers(-(2**31), -1).map(str),  # HRESULTs and other negative codes
    st.integers(0x80000000, 0xFFFFFFFF).map(lambda n: f"0x{n:08X}"),
    st.integers(0x80000000, 0xFFFFFFFF).map(str),  # an HRESULT read as unsigned
    versions,
    versions.map(lambda v: f"build {v} ({v.split('.')[2]})"),
    st.uuids().map(str), st.uuids().map(lambda u: f"{{{str(u).upper()}}}"),
    st.uuids().map(lambda u: f"session {u} ended"),
    st.integers(1_000_000_000, 2_100_000_000).map(str),  # epoch seconds
    st.integers(1_000_000_000_000, 2_100_000_000_000).map(str),  # epoch milliseconds
    st.integers(1_000_000_000_000, 2_100_000_000_000).map(lambda n: f"sent at {n}, retry"),
    st.datetimes(datetime(2000, 1, 1), datetime(2035, 12, 31)).map(
        lambda d: d.strftime("%Y%m%d%H%M")),  # compact timestamps, not a personnummer
    st.integers(0, 9_999_999_999).map(lambda n: f"took {n} ms"),  # durations
    st.integers(0, 100_000).map(lambda n: f"{n} messages, {n % 60} calls"),
    st.binary(min_size=16, max_size=24).map(lambda b: base64.b64encode(b).decode()),
    st.sampled_from(["EN-US", "de-DE", "Surface Pro 9", "iPhone14,2", "Galaxy S21 Ultra",
                     "Windows 11 Pro", "Microsoft Teams Rooms", "SM-G991B", "Pixel 7a"]),
)
regions = st.sampled_from([None, "US", "DE", "FR", "GB", "TR", "IN", "JP", "BR", "PL", "IL",
                          "CN"])


@settings(max_examples=300, deadline=None)  # the first call loads the name lists
@given(benign, regions)
def test_benign_values_are_no_pii(value: str, region: str | None) -> None:
    assert PHONE.find(value, region) == []
    assert NATIONAL_ID.find(value) == []
    assert CARD_NUMBER.find(value) == []
    assert ACCOUNT_ID.find(value) == []
    assert PERSON_NAME.find(value) == []


ssns = st.tuples(st.integers(1, 665), st.integers(1, 99), st.integers(1, 9999)).map(
    lambda t: f"{t[0]:03d}-{t[1]:02d}-{t[2]:04d}")
sins = st.integers(10_000_000, 79_999_999).map(lambda n: str(n) + luhn.calc_check_digit(str(n)))
pesels = st.tuples(st.integers(0, 99), st.integers(1, 12), st.integers(1, 28),
                   st.integers(0, 9999)).map(
    lambda t: (base := f"{t[0]:02d}{t[1]:02d}{t[2]:02d}{t[3]:04d}") + pesel.calc_check_digit(base))
prefixes = st.sampled_from(["", "id ", "value: ", "see ", "("])


@given(prefixes, st.one_of(
    ssns,
    sins.map(lambda s: f"{s[:3]}-{s[3:6]}-{s[6:]}"),
    pesels.map(lambda p: f"PESEL: {p}"),
))
def test_checked_ids_in_free_text_are_found(prefix: str, value: str) -> None:
    found = NATIONAL_ID.find(f"{prefix}{value} end")
    assert found and found[0].value in value
    assert found[0].value not in found[0].explanation
