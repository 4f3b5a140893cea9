"""Each step a field mapping can take, on frames as the readers give them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.detectors.prefixed_ids import ID_PREFIX
from audit.mapping import MappingError, load_mapping


def mapped(tmp_path: Path, text: str, rows: list[dict]) -> pd.DataFrame:
    path = tmp_path / "m.yaml"
    path.write_text(text, "utf-8")
    return load_mapping(str(path)).apply(pd.DataFrame(rows))


def column(frame: pd.DataFrame, name: str) -> list:
    return [None if pd.isna(v) else v for v in frame[name].tolist()]


def test_lower_and_upper(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n  tenant: {from: org, transform: [lower]}\n"
                   "  UserLanguage: {from: lang, transform: [upper]}\n",
                   [{"org": "Contoso.COM", "lang": "en-us"}, {"org": 7, "lang": None}])
    assert column(frame, "tenant") == ["contoso.com", 7]  # a number passes unchanged
    assert column(frame, "UserLanguage") == ["EN-US", None]
    assert "org" not in frame.columns and "lang" not in frame.columns


def test_cs_id_strips_the_prefix_and_keeps_what_it_says(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n  DeviceID: {from: ext.device.localId, "
                   "transform: [{cs-id: device}]}\n",
                   [{"ext.device.localId": "s:5E872200-F546-4CCD-8F23-AF5F507AA2DD"},
                    {"ext.device.localId": "m:00-1A-2B-3C-4D-5E"},
                    {"ext.device.localId": "5E872200-F546-4CCD-8F23-AF5F507AA2DD"},
                    {"ext.device.localId": "sip:amos@contoso.com"}])
    assert column(frame, "DeviceID") == ["5E872200-F546-4CCD-8F23-AF5F507AA2DD",
                                         "00-1A-2B-3C-4D-5E",
                                         "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
                                         "sip:amos@contoso.com"]  # no one-letter prefix
    assert column(frame, ID_PREFIX + "DeviceID") == ["device:s", "device:m", None, None]


def test_regex_takes_the_named_group_else_the_whole_match(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n"
                   "  ErrorCode: {from: msg, transform: [{regex: 'hr=(?P<code>0x[0-9a-f]+)'}]}\n"
                   "  OSVersion: {from: ua, transform: [{regex: '[0-9]+[.][0-9]+'}]}\n",
                   [{"msg": "failed hr=0x80004005 twice", "ua": "Windows NT 10.0; x64"},
                    {"msg": "no code here", "ua": None}])
    assert column(frame, "ErrorCode") == ["0x80004005", None]  # no match: no value
    assert column(frame, "OSVersion") == ["10.0", None]


def test_split_picks_a_part(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n"
                   "  AppName: {from: app, transform: [{split: {sep: '|', index: 0}}]}\n"
                   "  OSVersion: {from: app, transform: [{split: {sep: '|', index: -1}}]}\n"
                   "  pool: {from: app, transform: [{split: {sep: '|', index: 5}}]}\n",
                   [{"app": "Teams|24215.1007|10.0.22631"}])
    assert column(frame, "AppName") == ["Teams"]
    assert column(frame, "OSVersion") == ["10.0.22631"]
    assert column(frame, "pool") == [None]  # no sixth part


@pytest.mark.parametrize(
    ("how", "encoded", "decoded"),
    [
        ("hex", "616d6f73406578616d706c652e636f6d", "amos@example.com"),
        ("base64", "YW1vc0BleGFtcGxlLmNvbQ", "amos@example.com"),  # padding optional
        ("url", "amos%40example.com", "amos@example.com"),
        ("hex", "not hex", "not hex"),  # kept as it came
        ("base64", "@@@", "@@@"),
        ("hex", "ff00", "ff00"),  # bytes that are not UTF-8 text
    ],
)
def test_decode(tmp_path: Path, how: str, encoded: str, decoded: str) -> None:
    frame = mapped(tmp_path, f"fields:\n  SipUri: {{from: v, transform: [{{decode: {how}}}]}}\n",
                   [{"v": encoded}])
    assert column(frame, "SipUri") == [decoded]


def test_prefix_removes_a_literal_prefix(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n  tenant: {from: t, transform: [{prefix: 'org:'}]}\n",
                   [{"t": "org:contoso.com"}, {"t": "fabrikam.com"}])
    assert column(frame, "tenant") == ["contoso.com", "fabrikam.com"]


def test_sources_coalesce_or_join(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n"
                   "  DeviceModel: {from: [a, b]}\n"
                   "  ErrorLog: {from: [a, b, c], join: ' / '}\n",
                   [{"a": "x", "b": "y", "c": [1, 2]}, {"a": None, "b": "y", "c": None},
                    {"a": None, "b": None, "c": None}])
    assert column(frame, "DeviceModel") == ["x", "y", None]
    assert column(frame, "ErrorLog") == ["x / y / [1, 2]", "y", None]


def test_constant_and_a_field_already_present(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n  client: {constant: desktop}\n  UserID: uid\n",
                   [{"uid": "a1", "UserID": "old"}, {"UserID": "kept"}])
    assert column(frame, "client") == ["desktop", "desktop"]
    # Where the source gives a value it replaces the field; where not, the field stays.
    assert column(frame, "UserID") == ["a1", "kept"]


def test_route_by_pattern_with_a_default(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "route:\n  field: name\n  categories:\n    census: census\n"
                   "    error: exception|crash\n  default: usage\n",
                   [{"name": "Microsoft.Teams.Census"}, {"name": "App.CRASH.Dump"},
                    {"name": "Teams.Click"}, {"other": 1}])
    assert column(frame, "category") == ["census", "error", "usage", None]


def test_lift_keeps_a_colliding_value_under_its_dotted_name(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "fields:\n  UserID: uid\nlift: [data.]\n",
                   [{"uid": "h1", "data.IMSent": 3, "data.UserID": "amos@contoso.com"},
                    {"uid": None, "data.IMSent": 4, "data.UserID": "h2"}])
    assert column(frame, "IMSent") == [3, 4]
    assert column(frame, "UserID") == ["h1", "h2"]
    # The record that had a UserID of its own keeps the other one, to be audited as well.
    assert column(frame, "data.UserID") == ["amos@contoso.com", None]


def test_ignore_by_name_and_glob(tmp_path: Path) -> None:
    frame = mapped(tmp_path, "ignore: [ver, 'ext.sdk.*']\n",
                   [{"ver": "4.0", "ext.sdk.ver": "1", "ext.sdk.seq": 2, "ext.os.ver": "10"}])
    assert list(frame.columns) == ["ext.os.ver"]


def test_extends_a_shipped_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("extends: common-schema\nroute:\n  field: name\n  categories:\n"
                    "    census: heartbeat\n  default: usage\n"
                    "fields:\n  client: {constant: desktop}\n", "utf-8")
    mapping = load_mapping(str(path))
    frame = mapping.apply(pd.DataFrame([{"name": "Teams.Heartbeat", "ext.user.localId": "w:a"}]))
    assert column(frame, "category") == ["census"]
    assert column(frame, "client") == ["desktop"]
    assert column(frame, "UserID") == ["a"]  # the shipped entries still apply


def test_extends_itself_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(f"extends: {path}\n", "utf-8")
    with pytest.raises(MappingError, match="extends itself"):
        load_mapping(str(path))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={
    "ext.device.localId": st.sampled_from(["s:5E872200-F546-4CCD-8F23-AF5F507AA2DD",
                                           "m:00-1A-2B-3C-4D-5E", "plain"]),
    "DeviceID": st.sampled_from(["old-1", "old-2"]),
    "data.IMSent": st.integers(0, 9),
    "IMSent": st.integers(10, 19),
    "name": st.sampled_from(["A.Census", "A.Crash", "A.Click"]),
    "ver": st.just("4.0"),
}), min_size=1, max_size=6), st.integers(0, 6))
def test_a_record_maps_the_same_whatever_its_batch(rows: list[dict], cut: int) -> None:
    """Small files share batches: a record's mapped values may not depend on the fields
    its neighbours carry."""
    mapping = load_mapping("common-schema")
    whole = mapping.apply(pd.DataFrame(rows))
    parts = [mapping.apply(pd.DataFrame(part)) for part in (rows[:cut], rows[cut:]) if part]
    apart = pd.concat(parts, ignore_index=True)

    def records(frame: pd.DataFrame) -> list[dict]:
        return [{k: v for k, v in row.items() if not pd.isna(v)}
                for row in frame.to_dict("records")]

    assert records(whole) == records(apart)
