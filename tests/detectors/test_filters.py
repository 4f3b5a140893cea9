"""Named false-positive filters."""

from __future__ import annotations

import pytest

from audit.detectors.filters import FILTERS, excluded_by

POSITIVE = {
    "version": ["10.0.2.15", "16.0.4483.1000", "8.3", "v1.2.3"],
    "hresult": ["-2147467259", "0x80004005", "0X8007000E", "2147942405"],
    "locale": ["EN-US", "en-gb", "zh-Hans-CN", "en_US", "fr"],
    "opaque_base64": ["AdDO8hsJqilU93hQHC3OZaPR2saEA==", "3q2+7wAAAAAAAAAAAAAAAA=="],
}
NEGATIVE = {
    "version": ["10", "Windows 11", "1.2.3.4.5.6", "a.b.c"],
    "hresult": ["12", "0", "-1", "0x00000000", "425-555-0123", "0x8000400"],
    "locale": ["iPhone", "Amos Marble", "EN-US-", "12-34"],
    "opaque_base64": ["aGVsbG8gd29ybGQgdGhpcyBpcyB0ZXh0", "iPhoneSkype", "abcdefabcdefabcdef",
                      "E296D735-4F36-4E18-7C3B-52E1A02A0164"],
}


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in POSITIVE.items() for v in vs])
def test_filter_recognises(name: str, value: str) -> None:
    assert FILTERS[name](value)
    assert excluded_by(value, (name,)) == name


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in NEGATIVE.items() for v in vs])
def test_filter_rejects(name: str, value: str) -> None:
    assert not FILTERS[name](value)
