"""Known identities: every form is found and named; loading errors name file and line."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.detectors.known import (
    KNOWN_IDENTITY,
    KNOWN_ORGANIZATION,
    KnownIdentities,
    load_identities,
)
from audit.errors import IdentitiesError

EMAIL = "amos.marble@contoso.com"
MIXED = "Amos.Marble@Contoso.com"


def h(alg: str, text: str) -> str:
    return hashlib.new(alg, text.encode()).hexdigest()


def guid(hx: str) -> str:
    return f"{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:32]}"


@pytest.fixture(scope="module")
def known() -> KnownIdentities:
    return KnownIdentities(
        [("email", EMAIL), ("upn", MIXED), ("display_name", "Amos Marble"),
         ("username", "amosmarble"), ("org_name", "Contoso"), ("tenant_domain", "fabrikam.com"),
         ("phone", "+1 425 555 0123"), ("mac", "00:1A:2B:3C:4D:5E"), ("username", "amo")]
    )


def forms(known: KnownIdentities, text: str) -> set[str]:
    return {m.form for m in known.find(text) if m.form}


ALGS = ("md5", "sha1", "sha256", "sha512")
EMAIL_CASES = [
    (EMAIL, "email"),
    (EMAIL.upper(), "casefold(email)"),
    (f'{{"user": "{EMAIL}", "n": 1}}', "email"),
    (urllib.parse.quote(EMAIL, safe=""), "url(email)"),
    (urllib.parse.quote(EMAIL, safe="").upper(), "casefold(url(email))"),
    (base64.b64encode(EMAIL.encode()).decode(), "base64(email)"),
    (base64.b64encode(EMAIL.encode()).decode().rstrip("="), "base64(email)"),
    *[(h(a, EMAIL), f"{a}(email)") for a in ALGS],
    *[(h(a, EMAIL).upper(), f"upper({a}(email))") for a in ALGS],
    *[(guid(h(a, EMAIL)), f"guid({a}(email))") for a in ALGS],
    *[(guid(h(a, EMAIL)).upper(), f"upper(guid({a}(email)))") for a in ALGS],
    *[(h(a, h(a, EMAIL)), f"{a}({a}(email))") for a in ALGS],
    *[(base64.b64encode(hashlib.new(a, EMAIL.encode()).digest()).decode(),
       f"base64({a}(email))") for a in ALGS],
]
MIXED_CASES = [
    *[(h(a, MIXED), f"{a}(upn)") for a in ALGS],
    *[(h(a, MIXED.lower()), f"{a}(lower(upn))") for a in ALGS],
    *[(h(a, MIXED.lower()).upper(), f"upper({a}(lower(upn)))") for a in ALGS],
    (guid(h("sha1", MIXED)), "guid(sha1(upn))"),
    (h("sha256", h("sha256", MIXED.lower())), "sha256(sha256(lower(upn)))"),
    (base64.urlsafe_b64encode(MIXED.encode() + b"\xff\xfe").decode(), None),
]


@pytest.mark.parametrize(("text", "form"), EMAIL_CASES)
def test_email_forms(known: KnownIdentities, text: str, form: str) -> None:
    matches = known.find(f"id={text};")
    assert form in {m.form for m in matches}
    m = next(m for m in matches if m.form == form)
    assert m.entity == KNOWN_IDENTITY
    assert EMAIL not in m.explanation and text not in m.explanation
    assert form in m.explanation


@pytest.mark.parametrize(("text", "form"), [c for c in MIXED_CASES if c[1]])
def test_mixed_case_value_and_lower_forms(known: KnownIdentities, text: str, form: str) -> None:
    assert form in forms(known, f"x {text} y")


@pytest.mark.parametrize(
    ("text", "form", "entity"),
    [
        ("Amos Marble's iPhone", "display_name", KNOWN_IDENTITY),
        ("Amos%20Marble", "url(display_name)", KNOWN_IDENTITY),
        ("AMOSMARBLE", "casefold(username)", KNOWN_IDENTITY),
        ("federated with fabrikam.com", "tenant_domain", KNOWN_ORGANIZATION),
        ("Contoso Ltd", "org_name", KNOWN_ORGANIZATION),
        ("+14255550123", "phone:e164", KNOWN_IDENTITY),
        ("001a2b3c4d5e", "casefold(mac:bare)", KNOWN_IDENTITY),
        (json.dumps({"n": "Amos Marble"}), "display_name", KNOWN_IDENTITY),
    ],
)
def test_other_kinds(known: KnownIdentities, text: str, form: str, entity: str) -> None:
    matches = known.find(text)
    assert (form, entity) in {(m.form, m.entity) for m in matches}


def test_org_inside_a_known_email_is_not_reported_twice() -> None:
    k = KnownIdentities([("email", "amos.marble@contoso.com"), ("tenant_domain", "contoso.com")])
    assert [m.entity for m in k.find("amos.marble@contoso.com")] == [KNOWN_IDENTITY]
    assert [m.entity for m in k.find("see contoso.com")] == [KNOWN_ORGANIZATION]


def test_json_escaped_value() -> None:
    k = KnownIdentities([("display_name", "Zoë O\"Brien")])
    assert "json(display_name)" in forms(k, json.dumps({"n": "Zoë O\"Brien"}))


@pytest.mark.parametrize(
    "text",
    ["amosmarbles", "xamosmarble", "Amos Marbles", "contosoltd", "amo", "Incoming",
     "E296D735-4F36-4E18-7C3B-52E1A02A0164", "x" + h("md5", EMAIL), "",
     "é" + h("md5", EMAIL), h("sha1", EMAIL) + "ü"],  # a letter of any script is glued on
)
def test_no_false_positive(known: KnownIdentities, text: str) -> None:
    assert known.find(text) == []


def test_short_identities_are_ignored_with_a_warning(known: KnownIdentities) -> None:
    assert any("shorter than 4" in w for w in known.warnings)
    assert "amo" not in {i.value for i in known.identities}


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "ids.csv"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_load_identities(tmp_path: Path) -> None:
    k = load_identities(write(tmp_path, "kind,value\n# test accounts\nemail,a.b@contoso.com\n"
                                        "\norg_name,Contoso\n"))
    assert [(i.kind, i.line) for i in k.identities] == [("email", 3), ("org_name", 5)]
    assert "identities line 3" in k.find("a.b@contoso.com")[0].explanation


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("kind,val\nemail,a@b.com\n", 1, "missing column(s) value"),
        ("kind,value\nemail,a@b.com\npassport,X123\n", 3, "unknown kind 'passport'"),
        ("kind,value\nemail,\n", 2, "empty value"),
        ("", 1, "empty file"),
    ],
)
def test_load_errors_name_file_and_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(IdentitiesError) as err:
        load_identities(path)
    assert err.value.path == path and err.value.line == line
    assert what in str(err.value) and f"{path}:{line}" in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IdentitiesError) as err:
        load_identities(str(tmp_path / "nope.csv"))
    assert "nope.csv" in str(err.value) and "cannot open" in str(err.value)


def test_ten_thousand_identities_build_and_search() -> None:
    """Functional check at scale (timing figures live in the bench script)."""
    k = KnownIdentities(("email", f"user{i}.name@contoso.com") for i in range(10_000))
    assert len(k) == 10_000
    text = f"uid={h('sha256', 'user9999.name@contoso.com')}"
    assert [m.form for m in k.find(text)] == ["sha256(email)"]


def test_upper_case_digests_and_ids_are_found_through_detect() -> None:
    """The vectorised candidate pass must not lose what only the case-folded pass finds."""
    import hashlib

    import pandas as pd

    from audit.detectors import detect

    ids = KnownIdentities([("email", "amos.marble@contoso.com"), ("username", "amosmarble"),
                           ("object_id", "7b9a1c52-3e44-4d6f-9a0b-2c6d8e1f4a37")])
    sha1 = hashlib.sha1(b"amosmarble").hexdigest()
    values = pd.Series([
        "7B9A1C52-3E44-4D6F-9A0B-2C6D8E1F4A37",
        hashlib.md5(b"amos.marble@contoso.com").hexdigest().upper(),
        f"{sha1[:8]}-{sha1[8:12]}-{sha1[12:16]}-{sha1[16:20]}-{sha1[20:32]}".upper(),
        "AMOSMARBLE",
        "E296D735-4F36-4E18-7C3B-52E1A02A0164",
    ])
    found = detect(values, ["KNOWN_IDENTITY"], identities=ids)
    assert list(found.index) == [0, 1, 2, 3]
    assert "upper(md5(email))" in found.loc[1, "explanation"]


def test_known_domain_inside_an_address_is_not_an_organisation() -> None:
    ids = KnownIdentities([("tenant_domain", "contoso.com")])
    assert [m.value for m in ids.find("partner contoso.com")] == ["contoso.com"]
    assert ids.find("sip:someone@contoso.com") == []
    assert ids.find("someone%40contoso.com") == []


def test_digest_tokens_are_found_whole_and_only_whole(known: KnownIdentities) -> None:
    """Digests and GUIDs are looked up as whole tokens, outside the automaton."""
    sha = h("sha256", EMAIL)
    assert "sha256(email)" in forms(known, f"/users/{sha}/avatar")
    assert "guid(sha1(email))" in forms(known, f"{{{guid(h('sha1', EMAIL))}}}")
    assert forms(known, f"{sha}0") == set() and forms(known, f"g{sha}") == set()
    assert "sha256(email)" in forms(known, f"{sha}-{sha}")
    crafted = "a" * 70_000  # one long hex run: a token of no digest's length
    assert known.find(crafted) == [] and not known.candidates([crafted]).any()


def test_an_object_id_in_braces_is_found_in_braces() -> None:
    k = KnownIdentities([("object_id", "{7B9A1C52-3E44-4D6F-9A0B-2C6D8E1F4A37}")])
    assert forms(k, "{7b9a1c52-3e44-4d6f-9a0b-2c6d8e1f4a37}") == {"casefold(object_id)"}
    assert forms(k, "7b9a1c523e444d6f9a0b2c6d8e1f4a37") == {"casefold(object_id:hex)"}


_PIECES = [EMAIL, h("md5", EMAIL), h("sha512", EMAIL).upper(), guid(h("sha256", EMAIL)),
           h("sha1", h("sha1", EMAIL)), "Amos Marble", "fabrikam.com", h("md5", "nobody")]


@given(st.lists(st.tuples(st.sampled_from(_PIECES),
                          st.sampled_from([" ", "/", "=", "{", "-", "", "x", "0"])),
                min_size=1, max_size=4))
@settings(max_examples=200, deadline=None)
def test_candidates_never_miss_what_find_finds(known: KnownIdentities,
                                               parts: list[tuple[str, str]]) -> None:
    """The vectorised candidate pass (bare tokens, tokens inside text, the automaton) is a
    superset of what the exact search finds, and a piece on its own is found."""
    text = "".join(piece + sep for piece, sep in parts)
    for variant in (text, text.upper()):
        if known.find(variant):
            assert known.candidates([variant])[0], variant
    piece, sep = parts[0]
    if len(parts) == 1 and piece != _PIECES[-1] and not sep.isalnum():
        assert known.find(text), text


# -- the compact index finds what a plain search of every variant finds ---------------


def _reference(known: KnownIdentities, text: str) -> list[tuple[object, ...]]:
    """``find`` by brute force, as the index of tuples did: every variant of every
    identity (`variants`, deduplicated per identity), tokens looked up whole, the rest
    searched at every position of the text and of its case-folded copy."""
    from audit.detectors.base import MAX_VALUE_LEN
    from audit.detectors.known import (
        _BARE,
        _TOKEN_LENGTHS,
        MIN_LEN,
        TOKEN,
        _bounded,
        _outermost,
        _Variant,
        variants,
    )

    tokens: dict[str, list[_Variant]] = {}
    searched: list[_Variant] = []
    for index, ident in enumerate(known.identities):
        seen: set[tuple[str, bool]] = set()
        for text_, form, exact, hexlike in variants(ident.kind, ident.value):
            full = text_ if exact else text_.casefold()
            if len(full) < MIN_LEN or (full, exact) in seen:
                continue
            seen.add((full, exact))
            var = _Variant(full, text_, form, exact, hexlike, index)
            if hexlike or (len(full) in _TOKEN_LENGTHS and _BARE.fullmatch(full)):
                tokens.setdefault(full.lower(), []).append(var)
            else:
                searched.append(var)
    text = text[:MAX_VALUE_LEN]
    hits: dict = {}
    for token in TOKEN.finditer(text):
        raw = token.group()
        for var in tokens.get(raw.lower(), ()):
            start, stop = token.span()
            if (var.exact and raw != var.full) or known._in_address(var, text, start):
                continue
            hits.setdefault((start, stop, var.ident), known._match(var, raw))
    if not _BARE.fullmatch(text):
        folded = text.casefold()
        passes = [(text, True)] if folded == text else [(text, True), (folded, False)]
        for haystack, original in passes:
            for var in searched:
                if (original and not var.exact and folded != text) or \
                        (not original and var.exact):
                    continue
                start = haystack.find(var.full)
                while start != -1:
                    stop = start + len(var.full)
                    if _bounded(haystack, start, stop) and \
                            not known._in_address(var, haystack, start) and \
                            (start, stop, var.ident) not in hits:
                        raw = text[start:stop] if original or len(folded) == len(text) \
                            else None
                        hits[(start, stop, var.ident)] = known._match(var, raw)
                    start = haystack.find(var.full, start + 1)
    return [(m.entity, m.value, m.explanation, m.form) for m in _outermost(hits)]


_NAMES = ["amos", "Zoë", "O'Brien", "müller", "STRASSE", "straße", "a+b/c", "x_y-z", "İstanbul",
          "7b9a1c52-3e44-4d6f-9a0b-2c6d8e1f4a37", "{7B9A1C52-3E44-4D6F-9A0B-2C6D8E1F4A37}",
          "00:1A:2B:3C:4D:5E", "+1 425 555 0123", "contoso.com", "sip:a@b.com",
          "d41d8cd98f00b204e9800998ecf8427e", "abc", " pad ", "@", ".", "1"]
identity_lists = st.lists(
    st.tuples(st.sampled_from(sorted({"email", "upn", "username", "display_name", "object_id",
                                      "phone", "mac", "org_name", "tenant_domain"})),
              st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map("".join)),
    min_size=1, max_size=8)


@given(identity_lists, st.data())
@settings(max_examples=150, deadline=None)
def test_the_compact_index_finds_what_a_search_of_every_variant_finds(
    identities: list[tuple[str, str]], data: st.DataObject
) -> None:
    """On generated directories and texts built from their variants (any case, glued to
    letters, digits, base64 symbols or separators), ``find`` gives the same matches as a
    brute-force search, and ``candidates`` flags every text ``find`` finds anything in."""
    from audit.detectors.known import variants

    known = KnownIdentities(identities)
    every = [t for i in known.identities for t, *_ in variants(i.kind, i.value)] or ["none"]
    glue = st.sampled_from([" ", "", "/", "=", "+", "-", "_", "{", "@", "%40", "x", "0", "é",
                            "\x00", "\""])
    piece = st.tuples(st.sampled_from(every), st.sampled_from([str, str.upper, str.lower]),
                      glue).map(lambda p: p[1](p[0]) + p[2])
    texts = data.draw(st.lists(st.lists(piece, min_size=1, max_size=3).map("".join),
                               min_size=1, max_size=6))
    for text in texts:
        assert [(m.entity, m.value, m.explanation, m.form) for m in known.find(text)] == \
            _reference(known, text), text
    flagged = known.candidates(texts)
    assert all(flagged[i] for i, text in enumerate(texts) if known.find(text))


def test_a_large_directory_keeps_digests_out_of_the_automaton() -> None:
    """Per identity the automaton holds a few keys of its value's encodings, never one of
    its 40 digest variants: those are 64-bit prefixes in two sorted arrays."""
    k = KnownIdentities(("email", f"user{i}.name@contoso.com") for i in range(2_000))
    assert k._automaton is not None
    assert k._automaton.get_stats()["words_count"] <= 4 * len(k)
    assert len(k._token_keys) == 2_000 * 12 and len(k._b64_keys) == 2_000 * 8
    assert k._token_keys.dtype.itemsize == 8 and (k._token_keys[1:] >= k._token_keys[:-1]).all()
    target = base64.b64encode(hashlib.sha512(b"user1999.name@contoso.com").digest()).decode()
    assert forms(k, f"x={target}") == {"base64(sha512(email))"}
    assert forms(k, f"x={target[:-3]}") == set()
