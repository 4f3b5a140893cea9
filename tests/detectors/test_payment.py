"""CARD_NUMBER: Luhn plus issuer prefix."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audit.detectors.payment import CARD_NUMBER, card_scheme


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111 1111 1111 1111", "4111 1111 1111 1111"),
        ("card=4111-1111-1111-1111;", "4111-1111-1111-1111"),
        ("5555555555554444", "5555555555554444"),
        ("378282246310005", "378282246310005"),
        ("6011111111111117", "6011111111111117"),
        ("paid with 6759318044729610", "6759318044729610"),  # Maestro UK
        ("6762-1099-4830-2157", "6762-1099-4830-2157"),  # Maestro
        ("UATP 104827365901835", "104827365901835"),  # airline card: 1 and 14 digits
        ("uatp 135790246813574", "135790246813574"),
        ("6759 0000 0000 0000", "6759 0000 0000 0000"),  # UK Maestro
    ],
)
def test_card_found(text: str, expected: str) -> None:
    assert [m.value for m in CARD_NUMBER.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails Luhn
        "1234567812345670",  # Luhn-valid, no known issuer
        "0000 0000 0000 0000",
        "4111 1111-1111 1111",  # mixed separators
        "41111111111111111111111",  # too long
        "-2147467259",
        "16.0.4483.1000",
        "1712345678901",
        "1048273659018351",  # a UATP number has 15 digits
        "104827365901836",  # fails Luhn
        "session 39077129-4391-4638-A55A-DB9C24B337E6",  # a GUID's first groups
    ],
)
def test_card_not_found(text: str) -> None:
    assert CARD_NUMBER.find(text) == []


def test_card_scheme() -> None:
    assert card_scheme("4111111111111111") == "Visa"
    assert card_scheme("378282246310005") == "American Express"
    assert card_scheme("9111111111111111") is None
    assert card_scheme("6759318044729610") == "Maestro"
    assert card_scheme("104827365901835") == "UATP"


@pytest.mark.parametrize("crafted", ["1" * 100_000, "1 " * 50_000, "1-" * 50_000])
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    assert_fast(CARD_NUMBER.find, crafted)
