"""detect(): vectorised entry point over a pandas Series."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest

from audit.detectors import DETECTORS, ENTITIES, KnownIdentities, detect, detect_text

PRACTICES_CLEAN = ["iPhoneSkype", "iPhone", "iPhoneiOS", "8.3", "EN-US",
                   "E296D735-4F36-4E18-7C3B-52E1A02A0164", "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
                   "12", "5", "4", "30 mins", "Incoming", "Idle", "AdDO8hsJqilU93hQHC3OZaPR2saEA==",
                   "-2147467259", "0x80004005", "Surface Pro 9", "Windows 11", "10.0.22631"]
ALL = [e for e in ENTITIES if e != "ORG_DOMAIN"]  # usage data may name organisations


def test_entities_registry() -> None:
    assert set(DETECTORS) <= set(ENTITIES)
    assert {"KNOWN_IDENTITY", "KNOWN_ORGANIZATION"} <= set(ENTITIES)
    for entity, det in DETECTORS.items():
        assert det.entity == entity
        re.compile(det.prefilter)


def test_prefilters_run_on_arrow_strings() -> None:
    """Prefilters stay RE2-compatible, so pandas can run them through pyarrow."""
    pytest.importorskip("pyarrow")
    s = pd.Series(["x"], dtype="string[pyarrow]")
    for det in DETECTORS.values():
        s.str.contains(det.prefilter, regex=True)


def test_practices_examples_are_clean() -> None:
    k = KnownIdentities([("email", "amos.marble@contoso.com")])
    assert detect(pd.Series(PRACTICES_CLEAN), ALL, identities=k).empty


def test_one_row_per_label_first_entity_wins() -> None:
    s = pd.Series(["sip:amos@contoso.com", "nothing", None, "amos@contoso.com 203.0.113.7"],
                  index=[10, 11, 12, 13])
    out = detect(s, ["IP_ADDRESS", "SIP_URI", "EMAIL"])
    assert list(out.columns) == ["entity", "detector", "explanation", "matched"]
    assert list(out.index) == [10, 13]
    assert list(out["entity"]) == ["SIP_URI", "IP_ADDRESS"]
    assert out.loc[13, "matched"] == "203.0.113.7"
    assert out.loc[13, "detector"] == "ip-address"


def test_repeated_values_map_back_to_every_label() -> None:
    s = pd.Series(["a@contoso.com", "x", "a@contoso.com"] * 3)
    assert list(detect(s, ["EMAIL"]).index) == [0, 2, 3, 5, 6, 8]


def test_duplicate_labels_keep_one_row() -> None:
    s = pd.Series(["a@contoso.com", "b@contoso.com"], index=["r", "r"])
    assert len(detect(s, ["EMAIL"])) == 1


@pytest.mark.parametrize("dtype", [object, "string", "string[pyarrow]", "category"])
def test_string_dtypes(dtype: object) -> None:
    s = pd.Series(["a@contoso.com", None, "x"], dtype=dtype)
    assert list(detect(s, ["EMAIL"]).index) == [0]


def test_non_string_values_are_converted() -> None:
    s = pd.Series([14255550123, 12, 4111111111111111, 1.5, True], dtype=object)
    out = detect(s, ["CARD_NUMBER", "PHONE"])
    assert list(out.index) == [2]


def test_context_exclusions() -> None:
    """DESIGN's "context matters" cases."""
    assert detect(pd.Series(["10.0.2.15"]), ["IP_ADDRESS"], exclude=("version",)).empty
    assert detect(pd.Series(["-2147467259", "0x80004005"]), ["PHONE"]).empty
    assert detect(pd.Series(["EN-US", "en-gb"]), ["PERSON_NAME"], exclude=("locale",)).empty
    assert detect(pd.Series(["AdDO8hsJqilU93hQHC3OZaPR2saEA=="]), ["SECRET"]).empty


def test_decoding_is_reported_and_optional() -> None:
    s = pd.Series([base64.b64encode(b"user=amos.marble@contoso.com").decode()])
    out = detect(s, ["EMAIL"])
    assert out.loc[0, "matched"] == "amos.marble@contoso.com"
    assert "after base64 decoding" in out.loc[0, "explanation"]
    assert detect(s, ["EMAIL"], decode=False).empty


def test_known_entities_need_identities() -> None:
    s = pd.Series(["amos.marble@contoso.com"])
    assert detect(s, ["KNOWN_IDENTITY"]).empty
    k = KnownIdentities([("email", "amos.marble@contoso.com"), ("org_name", "Contoso")])
    out = detect(s, ["KNOWN_IDENTITY", "EMAIL"], identities=k)
    assert out.loc[0, "entity"] == "KNOWN_IDENTITY"
    assert "email found as email" in out.loc[0, "explanation"]
    out = detect(pd.Series(["Contoso Ltd"]), ["KNOWN_ORGANIZATION"], identities=k)
    assert out.loc[0, "entity"] == "KNOWN_ORGANIZATION"


def test_explanations_never_contain_the_matched_value() -> None:
    s = pd.Series(["amos.marble@contoso.com", "sip:a@contoso.com", "+14255550123",
                   "password=hunter22", "4111 1111 1111 1111", "Amos Marble's iPhone",
                   "203.0.113.7", "00:1A:2B:3C:4D:5E"])
    out = detect(s, list(DETECTORS))
    assert len(out) == len(s)
    for _, row in out.iterrows():
        assert row["matched"] not in row["explanation"]


def test_unknown_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown entity NOPE"):
        detect(pd.Series(["x"]), ["NOPE"])
    with pytest.raises(ValueError, match="unknown filter"):
        detect(pd.Series(["x"]), ["EMAIL"], exclude=("nope",))


def test_empty_input() -> None:
    out = detect(pd.Series([], dtype=object), ["EMAIL"])
    assert out.empty and list(out.columns) == ["entity", "detector", "explanation", "matched"]
    assert detect(pd.Series([None, None]), ["EMAIL"]).empty


def test_detect_text() -> None:
    m = detect_text("mail amos@contoso.com", ["PHONE", "EMAIL"])
    assert m is not None and m.entity == "EMAIL" and m.detector == "email"
    assert detect_text("10.0.2.15", ["IP_ADDRESS"], exclude=("version",)) is None


def test_long_values_are_capped() -> None:
    s = pd.Series(["x" * 70_000 + " amos@contoso.com", "amos@contoso.com " + "x" * 70_000])
    assert list(detect(s, ["EMAIL"]).index) == [1]


def test_memo_is_skipped_for_columns_whose_values_never_come_back() -> None:
    """Ids and free text: asking the memo first is dropped after a chunk; repeated values
    keep being answered from it. Findings are the same either way."""
    from audit.detectors import scan

    def chunk(start: int, email_at: int) -> pd.Series:
        values = [f"req-{i:06d}" for i in range(start, start + 3_000)]
        values[email_at] = f"mail from user{start}@contoso.com"
        return pd.Series(values)

    memo: dict = {}
    for start, at in ((0, 5), (10_000, 2_999), (20_000, 0)):
        found = detect(chunk(start, at), ["EMAIL"], memo=memo)
        assert list(found.index) == [at] and found["entity"].tolist() == ["EMAIL"]
    assert memo.get(scan._UNIQUE) is True
    repeated: dict = {}
    for _ in range(3):
        values = pd.Series([f"state-{i % 2_500}" for i in range(5_000)] + ["a@contoso.com"])
        assert list(detect(values, ["EMAIL"], memo=repeated).index) == [5_000]
    assert scan._UNIQUE not in repeated and "state-7" in repeated


def test_text_written_in_hex_is_not_an_opaque_id() -> None:
    """32 hex digits look like an MD5 digest, which detectors skip; printable text in hex
    (an e-mail address here) is decoded and searched like any other value."""
    hexed = b"amos@contoso.com".hex()
    assert len(hexed) == 32
    out = detect(pd.Series([hexed, "5d41402abc4b2a76b9719d911017c592"]), ["EMAIL"])
    assert list(out.index) == [0]
    assert out.loc[0, "explanation"].endswith("found after hex decoding")
