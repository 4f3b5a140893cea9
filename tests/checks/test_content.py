"""The forbidden-content check kind: entities, field kinds as context, allow, undeclared fields."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
import pytest

import audit
import audit.checks.content as content
from audit.checks import CHECK_KINDS
from audit.context import ScanContext
from audit.detectors import ENTITIES, Match, load_identities
from audit.detectors.scan import Distinct
from audit.errors import RuleFileError
from audit.model import Stage
from audit.rulepack import Rule

ROOT = Path(__file__).resolve().parents[2]
DIRECTORY = ROOT / "fixtures" / "directory.csv"
PACK = audit.load_rule_pack()
USER_ENTITIES = [
    "EMAIL",
    "SIP_URI",
    "PHONE",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "PERSON_NAME",
    "KNOWN_IDENTITY",
]


def _rule(category: str = "census", **params: Any) -> Rule:
    params.setdefault("entities", USER_ENTITIES)
    return Rule(
        id=f"{category}/test",
        category=category,
        kind="forbidden-content",
        severity=audit.Severity.HIGH,
        title="t",
        message="{field}",
        params=MappingProxyType(params),
    )


def _ctx(identities: bool = False) -> ScanContext:
    return ScanContext(
        stage=Stage.TRANSIT,
        key=b"k" * 32,
        rulepack=PACK,
        identities=load_identities(str(DIRECTORY)) if identities else None,
    )


def _run(rows: list[dict[str, Any]], rule: Rule, identities: bool = False) -> pd.DataFrame:
    events = pd.DataFrame(rows, index=pd.RangeIndex(10, 10 + len(rows)))
    return CHECK_KINDS["forbidden-content"].func(rule, events, _ctx(identities))


def _pairs(found: pd.DataFrame) -> set[tuple[int, str]]:
    return set(zip(found.index, found["field"], strict=True))


def test_finds_entities_in_declared_and_undeclared_fields() -> None:
    found = _run(
        [
            {"DeviceModel": "Amos Marble's iPhone", "OSVersion": "8.3"},
            {"DeviceModel": "iPhone", "Contact": "call +1 (425) 555-0123"},
            {"DeviceModel": "iPhone"},
        ],
        _rule(),
    )
    assert _pairs(found) == {(10, "DeviceModel"), (11, "Contact")}
    first = found.loc[10]
    assert first["detector"] == "PERSON_NAME"
    assert first["value"] == "Amos Marble's iPhone"
    assert "Amos" not in first["explanation"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("OSVersion", "10.0.2.15"),
        ("UserLanguage", "EN-US"),
        ("UserLanguage", "en-GB"),
    ],
)
def test_field_kind_gives_context(field: str, value: str) -> None:
    assert _run([{field: value}], _rule()).empty


def test_same_value_in_an_undeclared_field_is_found() -> None:
    found = _run([{"OSVersion": "10.0.2.15", "LocalAddress": "10.0.2.15"}], _rule())
    assert _pairs(found) == {(10, "LocalAddress")}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ConversationThreadID", "AdDO8hsJqilU93hQHC3OZaPR2saEA=="),
        ("ErrorCode", "-2147467259"),
        ("ErrorCode", "0x80004005"),
    ],
)
def test_error_field_kinds_give_context(field: str, value: str) -> None:
    rule = _rule("error", entities=["SECRET", "CARD_NUMBER", "PHONE"])
    assert _run([{field: value}], rule).empty


def test_allow_skips_an_entity_in_one_field_only() -> None:
    rule = _rule("error", entities=["IP_ADDRESS"], allow={"ClientIP": ["IP_ADDRESS"]})
    found = _run([{"ClientIP": "203.0.113.24", "ErrorLog": "connect to 203.0.113.24 failed"}], rule)
    assert _pairs(found) == {(10, "ErrorLog")}


def test_fields_skip_fields_and_exclude_kinds() -> None:
    row = {"DeviceModel": "Amos Marble's iPhone", "AppName": "Teams for amos@contoso.com"}
    assert _pairs(_run([row], _rule(fields=["AppName"]))) == {(10, "AppName")}
    assert _pairs(_run([row], _rule(skip_fields=["AppName"]))) == {(10, "DeviceModel")}
    assert _pairs(_run([row], _rule(exclude_kinds=["device-model"]))) == {(10, "AppName")}


def test_one_hit_per_record_and_field_first_entity_wins() -> None:
    found = _run([{"Note": "amos@contoso.com from 203.0.113.24"}], _rule())
    assert len(found) == 1 and found.iloc[0]["detector"] == "EMAIL"


def test_non_string_values_are_searched_as_text() -> None:
    found = _run(
        [{"Hosts": ["ok", "amos@contoso.com"], "Port": 443}, {"Hosts": None, "Port": 80}],
        _rule(),
    )
    assert _pairs(found) == {(10, "Hosts")}


def test_known_identities_only_with_a_directory() -> None:
    rows = [{"Owner": "amosmarble"}]
    assert _run(rows, _rule()).empty
    found = _run(rows, _rule(), identities=True)
    assert found.iloc[0]["detector"] == "KNOWN_IDENTITY"
    assert "username found as username" in found.iloc[0]["explanation"]


def test_known_identity_in_a_hashed_id_is_left_to_the_hashed_identifier_rule() -> None:
    import hashlib

    digest = hashlib.sha256(b"amos.marble@contoso.com").hexdigest()
    assert _run([{"UserID": digest}, {"UserID": "amosmarble"}], _rule(), identities=True).empty
    found = _run([{"UserID": "amos.marble@contoso.com"}], _rule(), identities=True)
    assert found.iloc[0]["detector"] == "EMAIL"


def test_the_domain_of_an_address_is_not_an_organisation() -> None:
    rule = _rule(entities=["ORG_DOMAIN", "KNOWN_ORGANIZATION"])
    found = _run(
        [
            {"UserID": "amos.marble@contoso.com"},
            {"UserID": "amos.marble%40contoso.com"},
            {"Note": "amos@contoso.com works at fabrikam.com"},
            {"Note": "Contoso Ltd"},
        ],
        rule,
        identities=True,
    )
    assert _pairs(found) == {(12, "Note"), (13, "Note")}
    assert found.loc[12, "value"] == "fabrikam.com"


def test_detection_runs_once_per_column_not_per_record(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = content.search

    def counting(distinct: Distinct, *args: Any, **kwargs: Any) -> dict[int, Match]:
        calls.append(len(distinct.index))
        return real(distinct, *args, **kwargs)

    monkeypatch.setattr(content, "search", counting)
    rows = [{"DeviceModel": f"iPhone {i % 3}", "OSVersion": "8.3"} for i in range(500)]
    _run(rows, _rule())
    assert calls == [500, 500]


def test_params_schema_enumerates_the_detector_entities() -> None:
    schema = CHECK_KINDS["forbidden-content"].params_schema
    assert schema["properties"]["entities"]["items"]["enum"] == list(ENTITIES)


def test_unknown_entity_in_a_rule_file_is_a_load_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    census = rules / "census.yaml"
    census.write_text(
        census.read_text("utf-8").replace("TENANT_KEY, KNOWN_ORGANIZATION", "TENANT_KEY, SSN"),
        "utf-8",
    )
    with pytest.raises(RuleFileError) as err:
        audit.load_rule_pack(str(rules))
    assert "census.yaml" in str(err.value) and "SSN" in str(err.value)
    assert err.value.line is not None


def test_built_in_identity_rules_use_the_kind() -> None:
    kinds = {r.id: r.kind for r in PACK.rules.values()}
    for rule_id in (
        "census/identifies-user",
        "census/identifies-organization",
        "usage/identifies-user",
        "error/secret-in-error-data",
    ):
        assert kinds[rule_id] == "forbidden-content"
    usage = PACK.rules["usage/identifies-user"].params["entities"]
    assert not {"ORG_DOMAIN", "TENANT_KEY", "KNOWN_ORGANIZATION"} & set(usage)
    secret = PACK.rules["error/secret-in-error-data"].params["entities"]
    assert "IP_ADDRESS" not in secret and "SIP_URI" not in secret


CENSUS_USER = PACK.rules["census/identifies-user"]
RANDOM_GUID = "0b6f2a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b"
V1_GUID = "c9f1e6a0-1d2e-11ee-9b3a-0a1b2c3d4e5f"  # made up: 2023, node 0a:1b:2c:3d:4e:5f


def test_an_undeclared_field_name_gives_context() -> None:
    """A random GUID is an identifier under a name that says so, not under any name."""
    found = _run(
        [
            {"ext.device.localId": RANDOM_GUID, "data.EventId": RANDOM_GUID},
            {"data.MachineId": "{" + RANDOM_GUID.upper() + "}", "SerialNumber": "3fa9c2d1e07b4a58"},
        ],
        CENSUS_USER,
    )
    assert _pairs(found) == {(10, "ext.device.localId"), (11, "data.MachineId"),
                             (11, "SerialNumber")}
    assert dict(zip(found["field"], found["detector"], strict=True)) == {
        "ext.device.localId": "MACHINE_ID", "data.MachineId": "MACHINE_ID",
        "SerialNumber": "DEVICE_SERIAL"}
    assert all("field named like" in e for e in found["explanation"])


@pytest.mark.parametrize(
    "value", ["10.0.22631.3007", "-2147467259", 42, True, "2026-03-02T10:00:00Z", 1767225600000],
)
def test_a_hinted_name_does_not_make_benign_values_identifiers(value: object) -> None:
    assert _run([{"data.MachineId": value, "SerialNumber": value, "Xuid": value}],
                CENSUS_USER).empty


def test_declared_ids_are_left_to_the_identifier_rules() -> None:
    """A version 1 DeviceID is census/device-id-not-random's, an XUID as UserID
    census/unhashed-user-id's; the same values undeclared are this rule's."""
    assert _run([{"DeviceID": V1_GUID, "UserID": "2533274801234567"}], CENSUS_USER).empty
    found = _run([{"Session": V1_GUID, "Player": "2533274801234567"}], CENSUS_USER)
    assert dict(zip(found["field"], found["detector"], strict=True)) == {
        "Session": "GUID_V1", "Player": "XUID"}


def test_hinted_fields_are_stacked_by_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undeclared fields are searched together: one search for those without a hint and
    one per hinted kind, however many fields."""
    calls: list[str | None] = []
    real = content.search

    def counting(distinct: Distinct, *args: Any, **kwargs: Any) -> dict[int, Match]:
        calls.append(kwargs.get("kind"))
        return real(distinct, *args, **kwargs)

    monkeypatch.setattr(content, "search", counting)
    row = {f"data.Counter{i}": i for i in range(50)}
    row |= {f"data.MachineId{i}": RANDOM_GUID for i in range(5)}
    row |= {"ext.device.localId": RANDOM_GUID, "SerialNumber": "PF3KX7Q2"}
    found = _run([row], CENSUS_USER)
    assert len(calls) == 3 and set(calls) == {"device-serial", "machine-id", None}
    assert len(found) == 7


def test_the_event_locale_is_the_region_of_national_phone_numbers() -> None:
    rows = [
        {"UserLanguage": "de-DE", "Note": "Tel. 0221 9876543", "Extra": "0221 9876543"},
        {"UserLanguage": "en-US", "Note": "Tel. 0221 9876543", "Extra": "0221 9876543"},
        {"UserLanguage": "tr-TR", "Note": "cep 532 123 45 67", "Extra": "x"},
        {"UserLanguage": "de-DE", "Note": "-2147467259", "Extra": "build 10.0.19045.4046"},
        {"Note": "Tel. 0221 9876543"},
    ]
    found = _run(rows, _rule(fields=["Note", "Extra", "UserLanguage"]))
    assert _pairs(found) == {(10, "Note"), (10, "Extra"), (12, "Note")}
    # the Turkish grouping is read as Turkish without the locale (see below)
    assert all("the event's locale" in e for e in found.loc[10, "explanation"])


def test_a_regions_own_grouping_needs_no_locale() -> None:
    # 3-3-2-2 without the trunk 0 is how Turkey writes a number, whatever the locale
    rows = [{"UserLanguage": "en-US", "Note": "cep 532 123 45 67"},
            {"Note": "cep 532 123 45 67"}, {"Note": "532.123.45.67"}]
    found = _run(rows, _rule(fields=["Note"]))
    assert _pairs(found) == {(10, "Note"), (11, "Note")}


def test_usage_locale_comes_from_a_hinted_field() -> None:
    rows = [{"ext.user.locale": "de-DE", "Detail": "Tel. 0221 9876543"},
            {"ext.user.locale": "fr-FR", "Detail": "Tel. 0221 9876543"}]
    found = _run(rows, _rule("usage"))
    assert _pairs(found) == {(10, "Detail")}


def test_the_regional_phone_wins_over_a_later_entity() -> None:
    # nine digits in threes: a valid CA SIN by its check digit, and a Polish mobile number
    rows = [{"UserLanguage": "pl-PL", "Note": "tel 512 340 001"},
            {"UserLanguage": "en-US", "Note": "tel 512 340 001"}]
    found = _run(rows, _rule(entities=["PHONE", "NATIONAL_ID"], fields=["Note"]))
    assert dict(zip(found.index, found["detector"], strict=True)) == {10: "PHONE",
                                                                     11: "NATIONAL_ID"}


def test_a_field_named_like_a_phone_number_takes_bare_digits() -> None:
    rows = [{"PhoneNumber": "4255550123", "Note": "4255550123"},
            {"PhoneNumber": "1712345678901", "Note": "x"},  # a time in milliseconds
            {"PhoneNumber": "3", "iPhoneModel": "iPhone14,2"}]
    found = _run(rows, _rule())
    assert _pairs(found) == {(10, "PhoneNumber")}
    assert "named like a phone number" in found["explanation"].iloc[0]
