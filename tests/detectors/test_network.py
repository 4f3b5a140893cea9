"""IP_ADDRESS and MAC_ADDRESS: positive and negative tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from audit.detectors import detect
from audit.detectors.network import IP_ADDRESS, MAC_ADDRESS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("client 192.168.1.20 timed out", "192.168.1.20"),
        ("ip=10.0.2.15", "10.0.2.15"),
        ("2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("[2001:db8:0:0:0:0:2:1]:443", "2001:db8:0:0:0:0:2:1"),
        ("request from fe80::1ff:fe23:4567:890a.", "fe80::1ff:fe23:4567:890a"),
        ("peers 2001:db8::1, then retried", "2001:db8::1"),
    ],
)
def test_ip_found(text: str, expected: str) -> None:
    assert [m.value for m in IP_ADDRESS.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    ["16.0.4483.1000", "1.2.3.4.5", "999.1.1.1", "12:30:45", "::", "std::vector",
     "8.3", "5E872200-F546-4CCD-8F23-AF5F507AA2DD", "00:1A:2B:3C:4D:5E",
     "eui 00:1a:2b:ff:fe:3c:4d:5e.", "at 10:00:00.", "10:00:00:00"],
)
def test_ip_not_found(text: str) -> None:
    assert IP_ADDRESS.find(text) == []


def test_version_string_is_not_an_ip_in_a_version_field() -> None:
    """DESIGN: `10.0.2.15` in OSVersion is a version, not an IP (caller passes the filter)."""
    s = pd.Series(["10.0.2.15", "16.0.4483.1000"])
    assert detect(s, ["IP_ADDRESS"], exclude=("version",)).empty
    assert list(detect(s, ["IP_ADDRESS"])["matched"]) == ["10.0.2.15"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5E"),
        ("mac 00-1a-2b-3c-4d-5e.", "00-1a-2b-3c-4d-5e"),
        ("001a.2b3c.4d5e", "001a.2b3c.4d5e"),
    ],
)
def test_mac_found(text: str, expected: str) -> None:
    assert [m.value for m in MAC_ADDRESS.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "00:1A-2B:3C:4D:5E", "00:1A:2B:3C:4D",
     "00:1A:2B:3C:4D:5E:6F", "5E872200-F546-4CCD-8F23-AF5F507AA2DD", "12:30:45"],
)
def test_mac_not_found(text: str) -> None:
    assert MAC_ADDRESS.find(text) == []


@pytest.mark.parametrize(
    "crafted", ["1." * 50_000, "1:" * 50_000, "a:" * 50_000 + "x", "ab:" * 33_000, "ab-" * 33_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    for det in (IP_ADDRESS, MAC_ADDRESS):
        assert_fast(det.find, crafted)
