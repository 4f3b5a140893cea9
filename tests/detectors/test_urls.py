"""URLs naming the user in clear text (ACCOUNT_ID parts): tables and a property."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.detectors import detect_text
from audit.detectors.accounts import ACCOUNT_ID
from audit.detectors.urls import URL_USER_PATH, URL_USER_QUERY

GUID = "5b1f0c2e-8d4a-4f6b-9c3e-2a7d1e9f0b84"
USER_ENTITIES = ["EMAIL", "SIP_URI", "PHONE", "IP_ADDRESS", "MAC_ADDRESS", "PERSON_NAME",
                 "ACCOUNT_ID", "IBAN", "NATIONAL_ID"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("https://api.example/v2/find?userId=amosm&v=2", "amosm"),
        ("https://api.example/find?EMAIL=amos.marble", "amos.marble"),
        ("https://api.example/x?a=1&login_name=pkumar", "pkumar"),
        ("https://api.example/x?displayName=Priya%20Kumar", "Priya%20Kumar"),
        ("https://cdn.example/people/amos.marble/photo.png", "amos.marble"),
        ("https://cdn.example/u/priya_kumar?size=48", "priya_kumar"),
    ],
)
def test_found(text: str, value: str) -> None:
    (m,) = ACCOUNT_ID.find(text)
    assert m.value == value
    assert value not in m.explanation


@pytest.mark.parametrize(
    "text",
    [
        f"https://api.example/find?userId={GUID}",
        "https://api.example/find?userId=" + "ab12" * 16,  # a digest: hashed as promised
        "https://api.example/find?userId=12345",
        "https://api.example/find?user_id=AAMkAGI2TG93AAA9ZmVkLTQ2NDk",  # an opaque token
        "https://api.example/find?email=true",
        "https://api.example/find?userId=null",
        "https://api.example/find?userId={userId}",
        "https://graph.example/v1.0/users/me/events",
        "https://graph.example/v1.0/users/index.html",
        "https://graph.example/v1.0/users/contoso.com/x",
        "https://graph.example/v1.0/users/users.read",
        "sip:amos@contoso.com;user=phone",
        "EN-US", "Surface Pro 9", "10.0.2.15",
    ],
)
def test_not_found(text: str) -> None:
    assert URL_USER_QUERY.find(text) == [] and URL_USER_PATH.find(text) == []


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("https://graph.example/v1.0/users/amos.marble%40contoso.com/photo", "EMAIL"),
        (f"https://teams.example/api/users/8%3Aorgid%3A{GUID}/presence", "ACCOUNT_ID"),
        ("https://teams.example/conversations/8:live:amos.marble_7/messages", "ACCOUNT_ID"),
        ("https://x.example/call?to=sip%3Aamos%40contoso.com", "EMAIL"),
        ("https://x.example/call?phone=%2B14255550123", "PHONE"),
        ("https://x.example/users/%2B14255550123/photo", "PHONE"),
        ("https://x.example/p/+4930123456", "PHONE"),
        ("https://x.example/login?upn=amos%40contoso.com", "EMAIL"),
    ],
)
def test_identities_in_urls_are_found_by_their_detectors(text: str, entity: str) -> None:
    found = detect_text(text, USER_ENTITIES)
    assert found is not None and found.entity == entity


_SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
_NAME = st.from_regex(r"[a-z]{3,10}\.[a-z]{3,10}", fullmatch=True)


@given(path=st.lists(_SEGMENT, max_size=4), name=_NAME,
       param=st.sampled_from(["userId", "email", "loginName", "accountName"]))
def test_injected_user_names_are_found_and_clean_urls_are_not(
    path: list[str], name: str, param: str,
) -> None:
    base = "https://api.example/" + "/".join(path)
    assert detect_text(base + "?v=2&lang=en-US", USER_ENTITIES) is None
    found = detect_text(f"{base}?v=2&{param}={name}", USER_ENTITIES)
    assert found is not None and found.value == name


@pytest.mark.parametrize("crafted", ["?userId=" * 20_000, "/users/a." * 20_000,
                                     "/u/" + "a" * 100_000])
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    assert_fast(ACCOUNT_ID.find, crafted)
