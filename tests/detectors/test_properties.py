"""Hypothesis properties: injected identities are found with the right form; clean values
raise nothing."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
import uuid
from collections.abc import Callable

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.detectors import ENTITIES, KnownIdentities, detect

IDENTITIES = [("email", "amos.marble@contoso.com"), ("upn", "Priya.K@Fabrikam.onmicrosoft.com"),
              ("username", "amosmarble"), ("display_name", "Priya Kumar"),
              ("object_id", "0f8fad5b-d9cb-469f-a165-70867728950e")]
KNOWN = KnownIdentities(IDENTITIES)


def _hex(alg: str, text: str) -> str:
    return hashlib.new(alg, text.encode()).hexdigest()


def _guid(hx: str) -> str:
    return f"{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:32]}"


def _digest(alg: str, *, upper: bool = False, as_guid: bool = False) -> Callable[[str], str]:
    def encode(value: str) -> str:
        hx = _hex(alg, value)
        hx = _guid(hx) if as_guid else hx
        return hx.upper() if upper else hx

    return encode


FORMS: dict[str, Callable[[str], str]] = {
    "{k}": lambda v: v,
    "casefold({k})": lambda v: v.upper(),
    "url({k})": lambda v: urllib.parse.quote(v, safe=""),
    "base64({k})": lambda v: base64.b64encode(v.encode()).decode(),
    **{f"{a}({{k}})": _digest(a) for a in ("md5", "sha1", "sha256", "sha512")},
    **{f"upper({a}({{k}}))": _digest(a, upper=True) for a in ("md5", "sha1")},
    **{f"guid({a}({{k}}))": _digest(a, as_guid=True) for a in ("md5", "sha256")},
    "sha256(sha256({k}))": lambda v: _hex("sha256", _hex("sha256", v)),
}

# Surrounding text that cannot glue onto an identity (separator chars at the edges).
_filler = st.text(alphabet="abcdefghij XYZ:=,;{}[]\"0123456789", max_size=30)
_left = _filler.map(lambda s: s + " ")
_right = _filler.map(lambda s: " " + s)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(IDENTITIES), st.sampled_from(sorted(FORMS)), _left, _right)
def test_injected_identity_is_found_with_its_form(ident: tuple[str, str], form: str, left: str,
                                                  right: str) -> None:
    kind, value = ident
    encoded = FORMS[form](value)
    expected = form.format(k=kind)
    if form == "url({k})" and encoded == value:
        expected = kind
    found = {m.form for m in KNOWN.find(left + encoded + right)}
    assert expected in found, (expected, found)


_clean = st.one_of(
    st.uuids(version=4).map(str),
    st.uuids(version=4).map(lambda u: str(u).upper()),
    st.sampled_from(["EN-US", "en-gb", "fr-FR", "zh-Hans-CN", "iPhone", "iPhoneSkype",
                     "iPhoneiOS", "Incoming", "Idle", "30 mins", "Surface Pro 9", "Windows 11",
                     "AdDO8hsJqilU93hQHC3OZaPR2saEA==", "-2147467259", "0x80004005"]),
    st.tuples(st.integers(0, 30), st.integers(0, 9), st.integers(0, 99_999),
              st.integers(0, 9_999)).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}.{t[3]}"),
    st.tuples(st.integers(0, 20), st.integers(0, 9)).map(lambda t: f"{t[0]}.{t[1]}"),
    st.integers(0, 100_000).map(str),
    st.sampled_from(["census", "usage", "error", "desktop", "mobile", "windows"]),
)


@settings(max_examples=300)
@given(st.lists(_clean, min_size=1, max_size=20))
def test_clean_values_raise_nothing(values: list[str]) -> None:
    entities = [e for e in ENTITIES if e != "ORG_DOMAIN"]
    out = detect(pd.Series(values), entities, identities=KNOWN, exclude=("version",))
    assert out.empty, out.to_dict("records")


@given(st.uuids(version=4))
def test_random_v4_is_not_linked_to_any_identity(u: uuid.UUID) -> None:
    assert KNOWN.find(str(u)) == []
