"""Bounded decoding before detection."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
from collections.abc import Callable

import pytest

from audit.detectors.decode import MAX_OUTPUTS, expand


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_base64() -> None:
    assert ("u=amos.marble@contoso.com", "base64") in expand(b64("u=amos.marble@contoso.com"))


def test_url_then_json() -> None:
    out = expand(urllib.parse.quote(json.dumps({"upn": "a@contoso.com"})))
    assert ("upn=a@contoso.com", "url>json") in out


def test_json_in_json_with_base64() -> None:
    doc = json.dumps({"a": {"b": b64(json.dumps({"user": "amos@contoso.com"}))}})
    assert ("user=amos@contoso.com", "base64>json") in expand(doc)


def test_json_escapes() -> None:
    assert ("name: Zoë", "json") in expand("name: Zo\\u00eb")


def test_hex() -> None:
    assert ("amos@contoso.com", "hex") in expand(b"amos@contoso.com".hex())
    assert ("sip:amos@contoso.com", "hex") in expand("u=0x" + b"sip:amos@contoso.com".hex().upper())
    assert ("a=amos@contoso.com", "base64>hex") in expand(b64(b"a=amos@contoso.com".hex()))


@pytest.mark.parametrize(
    "text",
    [hashlib.sha256(b"amos").hexdigest(), hashlib.md5(b"amos").hexdigest(), "2533274801234567",
     b"amos@contoso.com".hex()[:-1], "0x80004005", "deadbeefcafebabe"],
)
def test_hex_that_is_not_text_is_not_decoded(text: str) -> None:
    assert [how for _, how in expand(text) if how == "hex"] == []


def test_depth_is_bounded() -> None:
    text = b64(b64(b64("amos.marble@contoso.com")))
    hows = [how for _, how in expand(text, max_depth=2)]
    assert max(h.count(">") for h in hows) == 1
    assert "amos.marble@contoso.com" not in [t for t, _ in expand(text, max_depth=2)]


@pytest.mark.parametrize(
    "text",
    ["AdDO8hsJqilU93hQHC3OZaPR2saEA==", "5E872200-F546-4CCD-8F23-AF5F507AA2DD", "iPhone",
     "d41d8cd98f00b204e9800998ecf8427e", "100%", "{not json"],
)
def test_nothing_to_decode(text: str) -> None:
    assert expand(text) == []


def test_outputs_and_length_are_bounded(assert_fast: Callable[..., None]) -> None:
    many = " ".join(b64(f"value number {i} here") for i in range(100))
    assert len(expand(many)) <= MAX_OUTPUTS
    assert all(len(t) <= 100 for t, _ in expand(b64("x" * 1000), max_len=100))
    assert_fast(expand, "A" * 100_000)
    assert_fast(expand, "%41" * 40_000)
    assert_fast(expand, "[" * 50_000 + "]" * 50_000)
