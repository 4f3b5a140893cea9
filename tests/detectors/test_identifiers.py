"""GUID/digest classification: hashed user ids and random device ids."""

from __future__ import annotations

import hashlib
import uuid

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.detectors.identifiers import (
    classify_identifier,
    guid_v1_details,
    hashed_id_verdicts,
    is_hashed_id,
    random_guid_problem,
    random_guid_problems,
    random_guids,
)

PRACTICES_USER_ID = "E296D735-4F36-4E18-7C3B-52E1A02A0164"
PRACTICES_DEVICE_ID = "5E872200-F546-4CCD-8F23-AF5F507AA2DD"
V1 = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"


def test_classify_practices_user_id() -> None:
    info = classify_identifier(PRACTICES_USER_ID)
    assert info.guid_shaped and not info.rfc4122 and info.guid_variant == "ncs"
    assert info.guid_version is None and info.hex_bits == 128 and info.digest_like


def test_classify_shapes() -> None:
    assert classify_identifier(PRACTICES_DEVICE_ID).guid_version == 4
    assert classify_identifier("{" + PRACTICES_DEVICE_ID + "}").guid_version == 4
    assert classify_identifier("00000000-0000-0000-0000-000000000000").nil
    for alg, bits in (("md5", 128), ("sha1", 160), ("sha256", 256), ("sha512", 512)):
        assert classify_identifier(hashlib.new(alg, b"x").hexdigest()).hex_bits == bits
    assert classify_identifier("AdDO8hsJqilU93hQHC3OZaPR2saEA==").base64_bits == 168
    assert not classify_identifier("amosmarble").digest_like


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (PRACTICES_USER_ID, "consistent with a hash"),
        (PRACTICES_DEVICE_ID, "random pseudonym"),
        (str(uuid.uuid5(uuid.NAMESPACE_DNS, "amos")), "name-based"),
        (str(uuid.uuid3(uuid.NAMESPACE_DNS, "amos")), "name-based"),
        (hashlib.sha256(b"amos").hexdigest(), "256 bits"),
        (hashlib.md5(b"amos").hexdigest().upper(), "128 bits"),
        ("3q2+7wAAAAAAAAAAAAAAAA==", "base64 of 128 bits"),
    ],
)
def test_hashed(value: str, why: str) -> None:
    hashed, reason = is_hashed_id(value)
    assert hashed and why in reason


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("amosmarble", "plain text"),
        ("amos.marble@contoso.com", "e-mail"),
        ("sip:amos.marble@contoso.com", "SIP"),
        ("Amos Marble", "name or free text"),
        ("00000000-0000-0000-0000-000000000000", "nil GUID"),
        (V1, "MAC address"),
        ("abc123", "hex string"),
        ("jdoe42", "plain text"),
        ("d41d8cd98f00", "hex string"),
        ("", "empty"),
        ("aGVsbG8gd29ybGQgdGhpcyBpcyB0ZXh0", "plain text"),  # base64 of readable text
    ],
)
def test_not_hashed(value: str, why: str) -> None:
    hashed, reason = is_hashed_id(value)
    assert not hashed and why in reason
    if value:
        assert value not in reason


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("00000000-0000-0000-0000-000000000000", "nil GUID"),
        (V1, "version 1 GUID: embeds a MAC address and a time"),
        ("00:1A:2B:3C:4D:5E", "not a GUID: looks like a MAC address"),
        ("001A2B3C4D5E", "not a GUID: looks like a MAC address"),
        ("C02XK1ABJG5H", "not a GUID: looks like a serial number"),
        ("PF-2XK1AB", "not a GUID: looks like a serial number"),
        (str(uuid.uuid5(uuid.NAMESPACE_DNS, "pc")), "GUID version 5, not random (4)"),
        (PRACTICES_USER_ID, "not an RFC 4122 GUID"),
        ("11111111-1111-4111-8111-111111111111", "too few distinct digits"),
        ("iPhone", "not a GUID"),
    ],
)
def test_random_guid_problem(value: str, problem: str) -> None:
    reason = random_guid_problem(value)
    assert reason is not None and problem in reason


def test_random_guid_ok() -> None:
    assert random_guid_problem(PRACTICES_DEVICE_ID) is None
    assert random_guid_problem(str(uuid.uuid4()).upper()) is None


def test_v1_details_extract_mac_but_reason_does_not() -> None:
    details = guid_v1_details(V1)
    assert details is not None
    mac, when = details
    assert mac == "00:c0:4f:d4:30:c8" and when.year == 1998
    reason = random_guid_problem(V1) or ""
    assert "00:c0" not in reason and "c04fd430c8" not in reason
    assert guid_v1_details(PRACTICES_DEVICE_ID) is None


def test_digest_whose_bits_read_as_a_time_guid_is_a_hash() -> None:
    """A salted digest shown as a GUID may carry v1/v2/v6 bits by chance; its 'time' is
    not one a clock gives, so it is consistent with a hash. A real v1 GUID is not."""
    digest_v1 = "A1B2C3D4-E5F6-1A2B-9C3D-4E5F6A7B8C9D"  # version 1 bits, time in year 4000+
    hashed, reason = is_hashed_id(digest_v1)
    assert hashed and "no plausible time" in reason
    assert is_hashed_id("A1B2C3D4-E5F6-2A2B-9C3D-4E5F6A7B8C9D")[0]  # version 2
    assert not is_hashed_id(V1)[0]


_GUID_DIGIT = st.sampled_from("0123456789abcdefABCDEF")


@st.composite
def _guid_like(draw: st.DrawFn) -> str:
    """GUIDs of every version and variant (nil, braced, padded or cut ones too)."""
    digits = draw(st.lists(_GUID_DIGIT, min_size=32, max_size=32))
    if draw(st.booleans()):
        digits = ["0"] * 32
    hx = "".join(digits)
    text = f"{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:]}"
    return draw(st.sampled_from([text, text, "{" + text + "}", " " + text, text + "\n",
                                 text[:-1], hx, str(uuid.uuid1()), "amos.marble"]))


@given(st.lists(_guid_like(), max_size=30))
def test_batch_verdicts_equal_value_by_value(values: list[str]) -> None:
    assert hashed_id_verdicts(values) == [is_hashed_id(v) for v in values]
    assert random_guid_problems(values) == [random_guid_problem(v) for v in values]


@given(st.lists(_guid_like(), max_size=30))
def test_random_guids_only_clears_what_python_clears(values: list[str]) -> None:
    """The numpy pass may leave a value to Python, never clear one Python would flag."""
    cleared = random_guids(np.asarray(values, dtype=object)).tolist()
    problems = [random_guid_problem(v) for v in values]
    assert all(p is None for p, c in zip(problems, cleared, strict=True) if c)
    plain = [len(v) == 36 and v.isascii() and p is None for v, p in zip(values, problems,
                                                                         strict=True)]
    assert cleared == plain
