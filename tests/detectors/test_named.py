"""Detectors a field's kind brings (NAMED): identifier shapes count under a name that says
what the field holds, never benign values."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from audit.detectors import NAMED, detect
from audit.detectors.named import is_time_number

RANDOM_GUID = "0b6f2a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b"
V1 = str(uuid.UUID(fields=(0xC9F1E6A0, 0x1D2E, 0x11EE, 0x9B, 0x3A, 0x0A1B2C3D4E5F)))


@pytest.mark.parametrize(
    ("kind", "entity", "value", "shape"),
    [
        ("machine-id", "MACHINE_ID", RANDOM_GUID, "random GUID"),
        ("machine-id", "MACHINE_ID", "{" + RANDOM_GUID.upper() + "}", "random GUID"),
        ("machine-id", "MACHINE_ID", "4c4c4544003510488033b4c04f4d3532", "opaque hex id"),
        ("machine-id", "MACHINE_ID", "c:7d1e2f3a4b5c6d7e8f9a", "local id"),
        ("device-serial", "DEVICE_SERIAL", "3fa9c2d1e07b4a58", "opaque hex id of 64 bits"),
        ("device-serial", "DEVICE_SERIAL", "PF3KX7Q2", "serial-number-shaped"),
        ("device-serial", "DEVICE_SERIAL", "031548712356", "12-digit number"),
        ("account-id", "ACCOUNT_ID", "CONTOSO\\amosm", "DOMAIN\\user"),
        ("account-id", "ACCOUNT_ID", "m:0003BFFD8A2C4E71", "local id"),
        ("account-id", "ACCOUNT_ID", "YmPx3Q2v9KdLr7TzWq8NsA==", "opaque base64 id"),
        ("xbox-user-id", "XUID", "4911002233445566", "16-digit number"),
        ("product-key", "PRODUCT_KEY", "T83GX", "partial product key"),
        ("product-key", "PRODUCT_KEY", "AB1CD-EF2GH-IJ3KL-MN4OP-QR5ST", "product-key-shaped"),
    ],
)
def test_identifier_under_its_name_is_found(kind: str, entity: str, value: str,
                                            shape: str) -> None:
    found = NAMED[kind][entity].find(value)
    assert len(found) == 1 and found[0].entity == entity
    assert shape in found[0].explanation and "field named like" in found[0].explanation
    assert value not in found[0].explanation


@pytest.mark.parametrize(
    "value",
    ["true", "false", "0", "1", "42", "300", "10.0.2.15", "16.0.4483.1000", "EN-US", "en-gb",
     "-2147467259", "0x80004005", "00000000-0000-0000-0000-000000000000", "unknown",
     "To be filled by O.E.M.", "Default string", "0123456789", "1767225600", "1767225600000",
     "1767225600000000", "134117000000000000", "Windows.Desktop", "iPhone", "x" * 300,
     "2026-03-02T10:00:00Z"],
)
@pytest.mark.parametrize(("kind", "entity"),
                         [(k, e) for k, named in NAMED.items() for e in named])
def test_benign_values_are_not_identifiers_whatever_the_name(kind: str, entity: str,
                                                              value: str) -> None:
    assert NAMED[kind][entity].find(value) == []


def test_strict_matches_come_first() -> None:
    found = NAMED["machine-id"]["MACHINE_ID"].find("s:3F2504E0-4F89-41D3-9A0C-0305E82C3301")
    assert "SQM machine id" in found[0].explanation


def test_times_written_as_numbers() -> None:
    assert is_time_number("1767225600") and is_time_number("1767225600123")
    assert not is_time_number("2533274801234567") and not is_time_number("42")


def test_the_kind_selects_the_named_detector_in_detect() -> None:
    values = pd.Series([RANDOM_GUID, V1, "8.3"])
    assert detect(values, ["MACHINE_ID"]).empty  # a random GUID says nothing on its own
    found = detect(values, ["MACHINE_ID"], kind="machine-id")
    assert list(found.index) == [0, 1] and set(found["entity"]) == {"MACHINE_ID"}
    # A version 1 GUID is a finding by shape alone, whatever the field.
    assert list(detect(values, ["GUID_V1"]).index) == [1]
