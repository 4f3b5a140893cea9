"""EMAIL, SIP_URI and PHONE: positive and negative tables."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audit.detectors.contact import EMAIL, PHONE, SIP_URI, region_of_locale


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amos.marble@contoso.com", "amos.marble@contoso.com"),
        ("from: Priya.K+tag@mail.fabrikam.co.uk;", "Priya.K+tag@mail.fabrikam.co.uk"),
        ('{"upn":"amos@contoso.onmicrosoft.com"}', "amos@contoso.onmicrosoft.com"),
        ("AMOS@CONTOSO.COM", "AMOS@CONTOSO.COM"),
        ("amos@xn--80ak6aa92e.xn--p1ai", "amos@xn--80ak6aa92e.xn--p1ai"),  # IDN in punycode
    ],
)
def test_email_found(text: str, expected: str) -> None:
    assert [m.value for m in EMAIL.find(text)] == [expected]


@pytest.mark.parametrize(
    "text", ["amosmarble", "user@localhost-only", "x@app.exe", "a@b.md", "@contoso.com", "a@@b",
             "crash@0x80004005", "iPhone", "EN-US"],
)
def test_email_not_found(text: str) -> None:
    assert EMAIL.find(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sip:amos.marble@contoso.com", "sip:amos.marble@contoso.com"),
        ("SIPS:amos@contoso.com;transport=tls", "SIPS:amos@contoso.com"),
        ("<sip:amos@10.1.2.3:5061>", "sip:amos@10.1.2.3:5061"),
        ("tel:+14255550123", "tel:+14255550123"),
    ],
)
def test_sip_found(text: str, expected: str) -> None:
    assert [m.value for m in SIP_URI.find(text)] == [expected]


@pytest.mark.parametrize("text", ["sip:", "tel:12", "gossip:abc", "sip:not a host", "Idle"])
def test_sip_not_found(text: str) -> None:
    assert SIP_URI.find(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+14255550123", "+14255550123"),
        ("(425) 555-0123", "(425) 555-0123"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("call 425-555-0123 now", "425-555-0123"),
        ("0044 20 7946 0958", "0044 20 7946 0958"),
        ('{"phone":"+33 1 42 68 53 00"}', "+33 1 42 68 53 00"),
        ("tel. 030 1234567 (Berlin)", "030 1234567"),  # national format, no country code
        ("office 020 7946 0958.", "020 7946 0958"),
        ("my number is 090-1234-5678", "090-1234-5678"),
        ("mobile 06 55 44 33 22", "06 55 44 33 22"),
        ("Mobil: 07911 123456", "07911 123456"),  # GB mobile
        ("sms 0612345678", "0612345678"),  # bare, trunk 0: a mobile number (FR)
        ('{"mobile": "4255550123"}', "4255550123"),  # bare, but the value of a phone key
        ("https://x.example/sms?msisdn=14255550123", "14255550123"),
        ("Telefon: 5321234567", "5321234567"),  # TR, a region tried
        ("ara 532 123 45 67", "532 123 45 67"),  # TR grouping, no trunk 0, any locale
        ("212-123-45-67", "212-123-45-67"),  # an Istanbul line in that grouping
        ("Israeli number 09-7625400", "09-7625400"),
        ("052-123-4567", "052-123-4567"),
        ("wx 138 1234 5678", "138 1234 5678"),  # CN mobile grouping, any locale
        ("139-1234-5678", "139-1234-5678"),
    ],
)
def test_phone_found(text: str, expected: str) -> None:
    assert [m.value for m in PHONE.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "-2147467259",  # HRESULT (DESIGN: not a phone)
        "0x80004005",
        "2147942405",
        "12",
        "4255550123",  # bare digit run: could be any id
        "1712345678901",  # epoch milliseconds
        "10.0.2.15",
        "16.0.4483.1000",
        "2024-01-15 10:30:00",
        "15.01.2024 10:30",
        "+1 000 000 0000",  # invalid numbering plan
        "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
        "1 000 000",  # a count with thousands separators
        "released 2019-2020 2021",
        "1920 1080",
        "NL91 ABNA 0417 1643 01",  # digit groups of an IBAN (one with a bad check)
        "046 123 987",  # nine digits in threes, as a Canadian SIN is written
        "532.123.45.67",  # dotted in four parts: a version as likely
        "532 123-45 67",  # separators mixed
        "5321234567", "2121234567",  # bare, no trunk 0: any counter or id
        "13812345678",  # an 11-digit run (a CN mobile only with its locale and a label)
        "138 1234-5678",  # separators mixed
        "110 1234 5678",  # no CN mobile prefix 11
        "138 1234 5678 9012",  # inside a longer run of groups
        "030 12345678901234",  # a national number inside a longer digit run
        "session 11830487-7203-4C4F-9564-506B174FE26E ended",  # a GUID in free text
        "https://x.example/v1/2024/01/15/425-555-0123",  # digits after a "/" without a "+"
        '{"phoneCount": 1712345678}',  # a key that only starts like a phone's
        "cellId=1234567",  # not a valid number anywhere tried
        "hr=2147942405",  # an HRESULT read as unsigned, under no phone key
        "0221 9876543",  # a Cologne number: only with the event's region (below)
        "0123456789",  # bare and not a mobile number anywhere tried: a zero-padded id
        "0000012345",
        "build 0612345678901",  # a longer bare run
        "10.0.19045.4046",
    ],
)
def test_phone_not_found(text: str) -> None:
    assert PHONE.find(text) == []


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("Tel. 0221 9876543", "DE", "0221 9876543"),
        ("cep 532 123 45 67", "TR", "532 123 45 67"),  # no trunk 0: only with the hint
        ("0761 123456", "DE", "0761 123456"),
    ],
)
def test_phone_with_region_hint(text: str, region: str, expected: str) -> None:
    (m,) = PHONE.find(text, region)
    assert m.value == expected
    assert f"region {region}, the event's locale" in m.explanation


@pytest.mark.parametrize("text", ["-2147467259", "10.0.2.15", "4255550123", "2024-01-15",
                                  "0x80004005", "1712345678901", "532 123 45 67 89 01"])
def test_region_hint_keeps_the_filters(text: str) -> None:
    for region in ("DE", "TR", "GB", "IN", "BR"):
        assert PHONE.find(text, region) == []


@pytest.mark.parametrize(
    ("locale", "region"),
    [("de-DE", "DE"), ("EN-GB", "GB"), ("en_US", "US"), ("zh-Hans-CN", "CN"), ("de", None),
     ("es-419", None), ("", None), ("xx-ZZ", None)],
)
def test_region_of_locale(locale: str, region: str | None) -> None:
    assert region_of_locale(locale) == region


def test_explanations_never_hold_the_value() -> None:
    for det, text in ((EMAIL, "a.b@contoso.com"), (SIP_URI, "sip:a@contoso.com"),
                      (PHONE, "+14255550123")):
        (m,) = det.find(text)
        assert m.value not in m.explanation


@pytest.mark.parametrize(
    "crafted",
    ["a" * 100_000 + "@", "a@" * 50_000, "a." * 50_000 + "@", "sip:" + "a" * 100_000,
     "(" + "1 " * 50_000, "+1" + "-1" * 50_000, "1" * 100_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    for det in (EMAIL, SIP_URI, PHONE):
        assert_fast(det.find, crafted)
