"""DEVICE_SERIAL, PRODUCT_KEY, PRODUCT_ID, MACHINE_ID and GUID_V1: positive and negative
tables (made-up values: keys drawn at random from the key alphabet, a GUID with a
made-up node)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pandas as pd
import pytest

from audit.detectors import detect
from audit.detectors.hardware import (
    DEVICE_SERIAL,
    GUID_V1,
    MACHINE_ID,
    PRODUCT_ID,
    PRODUCT_KEY,
    is_serial_token,
)

KEY = "PGR4C-DYFQ2-CXJCD-TTDKD-YTC2F"
NODE = 0x0A1B2C3D4E5F  # a unicast, locally administered address made up for the tests
V1 = str(uuid.UUID(fields=(0xC9F1E6A0, 0x1D2E, 0x11EE, 0x9B, 0x3A, NODE)))  # made in 2023
MACHINE = "3F2504E0-4F89-41D3-9A0C-0305E82C3301"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SerialNumber=PF3KX7Q2", "PF3KX7Q2"),
        ('{"serialNumber": "5CG2048XQZ"}', "5CG2048XQZ"),
        ("bios serial: 0F2K9Q1-77", "0F2K9Q1-77"),
        ("S/N 7XK2J93", "7XK2J93"),
        ("service tag: 4HQ2R93", "4HQ2R93"),
        ("serial number 031548712356", "031548712356"),
    ],
)
def test_serial_found(text: str, expected: str) -> None:
    assert [m.value for m in DEVICE_SERIAL.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "C02XK1JHJG5J",  # no label: as likely a build tag as a serial
        "SerialNumber=To be filled by O.E.M.",
        "serial: Default string",
        "SerialNumber=0123456789",
        "serial=00000000",
        "SerializedV2Blob",  # the label glued to other text
        "serial port COM3",
        "serial: 10.0.2.15",
        "serial: 0x80004005",
    ],
)
def test_serial_not_found(text: str) -> None:
    assert DEVICE_SERIAL.find(text) == []


def test_serial_token_rules() -> None:
    assert is_serial_token("PF3KX7Q2") and is_serial_token("031548712356")
    assert not is_serial_token("PFKXQ")  # no digit
    assert not is_serial_token("1111-1111")  # too few distinct characters
    assert not is_serial_token("en-US")


@pytest.mark.parametrize("text", [KEY, f"key={KEY.lower()};", f"ProductKey: {KEY}"])
def test_product_key_found(text: str) -> None:
    assert [m.value.upper() for m in PRODUCT_KEY.find(text)] == [KEY]


@pytest.mark.parametrize(
    "text",
    [
        "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",  # a placeholder
        "BBBBB-CCCCC-DDDDD-FFFFF-GGGGG",  # too few distinct characters
        "ABCDE-FGHIJ-KLMNO-PQRST-UVWXY",  # vowels: not the key alphabet
        "PGR4C-DYFQ2-CXJCD-TTDKD",  # four groups
        f"{KEY}-YTC2F",  # six groups
        "12345-67890-12345-67890-12345",  # digits only
    ],
)
def test_product_key_not_found(text: str) -> None:
    assert PRODUCT_KEY.find(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00331-10000-00001-AA412", "00331-10000-00001-AA412"),
        ("pid=00426-OEM-8992662-00017;", "00426-OEM-8992662-00017"),
        ("ProductId 55274-640-2673064-23950", "55274-640-2673064-23950"),
    ],
)
def test_product_id_found(text: str, expected: str) -> None:
    assert [m.value for m in PRODUCT_ID.find(text)] == [expected]


@pytest.mark.parametrize(
    "text",
    ["00331-10000-00001-00412", "1-00331-10000-00001-AA412", "00331-10000-00001-AA4123",
     "2026-03-02", "+1 425 555 0123"],
)
def test_product_id_not_found(text: str) -> None:
    assert PRODUCT_ID.find(text) == []


@pytest.mark.parametrize("text", [f"s:{MACHINE}", f"device=s:{{{MACHINE}}}"])
def test_machine_id_found(text: str) -> None:
    assert [m.value for m in MACHINE_ID.find(text)] == [MACHINE]


@pytest.mark.parametrize(
    "text", [MACHINE, f"ids:{MACHINE}", f"s:{MACHINE[:-1]}", "s:0", "c:\\Windows\\System32"],
)
def test_machine_id_not_found(text: str) -> None:
    assert MACHINE_ID.find(text) == []


@pytest.mark.parametrize("text", [V1, V1.upper(), f"{{{V1}}}", f"session {V1} started"])
def test_guid_v1_found(text: str) -> None:
    found = GUID_V1.find(text)
    assert [m.value.lower() for m in found] == [V1]
    assert "MAC address" in found[0].explanation
    assert "0a:1b" not in found[0].explanation and "0a1b2c3d4e5f" not in found[0].explanation


@pytest.mark.parametrize(
    "text",
    [
        MACHINE,  # version 4
        # a multicast node: a random node id, not a network card
        str(uuid.UUID(fields=(0xC9F1E6A0, 0x1D2E, 0x11EE, 0x9B, 0x3A, NODE | 1 << 40))),
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # RFC 4122's DNS namespace: a 1998 constant
        str(uuid.UUID(fields=(0xC9F1E6A0, 0x1D2E, 0x11EE, 0x9B, 0x3A, 0))),  # zero node
        "E296D735-4F36-4E18-7C3B-52E1A02A0164",  # the practices' hashed UserID
    ],
)
def test_guid_v1_not_found(text: str) -> None:
    assert GUID_V1.find(text) == []


def test_a_whole_value_version_1_guid_is_found_though_it_is_an_opaque_id() -> None:
    """GUIDs as whole values are skipped by the other prefilters; GUID_V1 looks at them."""
    values = pd.Series([V1, MACHINE, "8.3"], index=[5, 6, 7])
    found = detect(values, ["GUID_V1"])
    assert list(found.index) == [5] and list(found["entity"]) == ["GUID_V1"]


@pytest.mark.parametrize(
    "crafted",
    ["serial=" + "A1" * 40_000, "0-" * 50_000, "00000-" * 20_000, "s:" * 50_000,
     "c9f1e6a0-1d2e-11ee-" * 5_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    for det in (DEVICE_SERIAL, PRODUCT_KEY, PRODUCT_ID, MACHINE_ID, GUID_V1):
        assert_fast(det.find, crafted)
