"""XUID and ACCOUNT_ID: positive and negative tables (made-up accounts)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from audit.detectors.accounts import ACCOUNT_ID, XUID, XUID_MAX, XUID_MIN

GUID = "0b6f2a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2533274801234567", "2533274801234567"),
        ("xuid=2535411234567890;", "2535411234567890"),
        ("x:2533274801234567", "x:2533274801234567"),
        (str(XUID_MIN), str(XUID_MIN)),
        (str(XUID_MAX), str(XUID_MAX)),
    ],
)
def test_xuid_found(text: str, expected: str) -> None:
    assert [m.value for m in XUID.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        str(XUID_MIN - 1), str(XUID_MAX + 1),
        "1767225600000000",  # a Unix time in microseconds
        "0.2533274801234567",  # a fraction
        "25332748012345678",  # 17 digits
        "v2533274801234567",
        "2533274801234567.5",
        "-2147467259",
    ],
)
def test_xuid_not_found(text: str) -> None:
    assert XUID.find(text) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"8:orgid:{GUID}", "MRI"),
        ("from 8:live:amos.marble_77", "MRI"),
        (f"w:{GUID.upper()}", "user local id"),
        ("C:\\Users\\amosm\\AppData\\Local\\Teams\\logs.txt", "profile folder"),
        ("c:/users/Amos Marble/Desktop", "profile folder"),
        ("file:///Users/amos/Library/Logs", "profile folder"),
        ("cwd=/home/amos/.config/app", "profile folder"),
        ("https://contoso-my.sharepoint.com/personal/amos_marble_contoso_com/Documents",
         "OneDrive personal site"),
        ("https://login.example/authorize?client_id=1&login_hint=amosm", "query parameter"),
        ("https://x.example/?UserPrincipalName=amosm%40contoso.com", "query parameter"),
    ],
)
def test_account_id_found(text: str, why: str) -> None:
    found = ACCOUNT_ID.find(text)
    assert found and why in found[0].explanation
    assert found[0].value not in found[0].explanation


@pytest.mark.parametrize(
    "text",
    [
        GUID,  # a bare GUID says nothing on its own
        "8:orgid:not-a-guid",
        "28:bot-id-0001",
        "C:\\Users\\Public\\Documents",
        "C:\\Users\\Default\\NTUSER.DAT",
        "C:\\Users\\%USERNAME%\\AppData",
        "/usr/local/bin/teams",
        "https://graph.example/v1.0/users/count",
        "https://contoso.sharepoint.com/sites/Engineering/Shared Documents",
        "https://login.example/authorize?login_hint=",
        "https://x.example/?username={user}",
        "https://x.example/?user=amosm",  # a bare "user" parameter is too common to trust
    ],
)
def test_account_id_not_found(text: str) -> None:
    assert ACCOUNT_ID.find(text) == []


@pytest.mark.parametrize(
    "crafted",
    ["2" * 100_000, "8:live:" * 10_000, "C:\\Users\\" * 10_000, "/home/" * 20_000,
     "?upn=" * 20_000, "/personal/a_" * 10_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    for det in (XUID, ACCOUNT_ID):
        assert_fast(det.find, crafted)
