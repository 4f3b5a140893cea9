"""PERSON_NAME in device names; product names and locales are not names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audit.detectors.names import PERSON_NAME


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Amos Marble's iPhone", "Amos Marble's iPhone"),
        ("Amos Marble’s iPhone", "Amos Marble’s iPhone"),
        ("Priya's iPad", "Priya's iPad"),
        ("Priya’s iPad", "Priya’s iPad"),
        ("Amos Marble's Surface Pro", "Amos Marble's Surface"),
        ("Amos Marble's stuff", "Amos Marble's stuff"),
        ("Jean-Luc's MacBook Pro", "Jean-Luc's MacBook"),
        ("Zoë's Galaxy S21", "Zoë's Galaxy"),
        ("Priya's iPhone13", "Priya's iPhone13"),
        ("Today's Amos Marble's laptop", "Amos Marble's laptop"),
        ("iPhone de Marie", "iPhone de Marie"),
        ("Galaxy S21 von Jan", "Galaxy S21 von Jan"),
    ],
)
def test_name_found(text: str, expected: str) -> None:
    assert [m.value for m in PERSON_NAME.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "EN-US",  # DESIGN: a locale is not a name
        "iPhone",
        "iPhoneSkype",
        "iPhoneiOS",
        "Surface Pro 9",
        "Windows 11",
        "Today's agenda",
        "Microsoft's service",
        "User's iPhone",
        "Priya's report",  # single name not followed by a device: too weak
        "it's iPad",
        "Priya's machine",
        "Priya's notes",
        "iPhone de 2019",
        "Galaxy S21 (Jan)",
        # free text: products, places, locales and sentences hold no known first name
        # followed by a known surname
        "Microsoft Teams Rooms",
        "Skype for Business Online",
        "Sign in failed for Teams",
        "Will Call Center",
        "San Francisco Bay",
        "New York City",
        "Media Stack Error",
        "Galaxy Note 20 Ultra",
        "Surface Laptop Studio",
        "Ms Teams crashed",
        "Meeting Join Attempts",
        "Conversation window closed during transfer",
        "EN-US DE-DE FR-FR",
        "MacBook Pro",
        "Dell Latitude 7420",
    ],
)
def test_name_not_found(text: str) -> None:
    assert PERSON_NAME.find(text) == []


@pytest.mark.parametrize(
    ("text", "expected", "why"),
    [
        ("meeting organised by Amelia Dubois today", "Amelia Dubois", "first name and surname"),
        ("Priya Devi Kumar joined", "Priya Devi Kumar", "first name and surname"),
        ("Margaret A. Keller", "Margaret A. Keller", "first name and surname"),
        ("hello, my name is Priya", "Priya", "my name is"),
        ("ask Mr. Marble", "Mr. Marble", "title"),
        ("Dr Kumar called", "Dr Kumar", "title"),
        ("Mrs. May", "Mrs. May", "title"),  # a month, but after a title a surname
    ],
)
def test_name_in_free_text(text: str, expected: str, why: str) -> None:
    pytest.importorskip("faker")  # the gazetteer's source
    (m,) = PERSON_NAME.find(text)
    assert m.value == expected and why in m.explanation


@pytest.mark.parametrize(
    "crafted", ["Aa's " * 20_000, "Aa " * 30_000 + "'s", "iPhone de " * 10_000, "A-" * 50_000,
                "Amos " * 20_000, "Mr. " * 20_000, "A. " * 30_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    assert_fast(PERSON_NAME.find, crafted)
