"""The rule pack: the built-in files validate, and every kind of broken file is exit 2
with the file, the line and what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import RULES

from audit.checks import CHECK_KINDS
from audit.errors import RuleFileError
from audit.rulepack import load

SCHEMA_RULES = {
    f"{c}/{r}"
    for c in ("census", "usage", "error")
    for r in ("undeclared-field", "schema-violation")
}


def test_builtin_pack_validates(run_cli) -> None:
    result = run_cli("rules", "validate", str(RULES))
    assert result.code == 0, result.err
    assert "3 rule files valid" in result.out


def test_builtin_pack_has_the_contract_schema_rules() -> None:
    pack = load()
    assert set(pack.rules) >= SCHEMA_RULES
    assert set(pack.categories) == {"census", "usage", "error"}
    for rule in pack.rules.values():
        assert rule.kind in CHECK_KINDS
        assert rule.policy in pack.categories[rule.category].statements


def test_rules_list_shows_every_rule(run_cli) -> None:
    result = run_cli("rules", "list")
    assert result.code == 0
    for rule_id in [*SCHEMA_RULES, "input/malformed-record"]:
        assert rule_id in result.out


def broken_pack(tmp_path: Path, old: str, new: str, file: str = "usage.yaml") -> tuple[Path, int]:
    """A copy of the built-in pack with one edit; returns the folder and the edited line."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = target / file
    text = path.read_text("utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), "utf-8")
    return target, line


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            "    severity: high\n    title: Undeclared usage field",
            "    severity: high\n    title: [Undeclared usage field",
            "invalid YAML",
        ),
        (
            "    kind: declared-fields\n",
            "    kind: declared-fields\n    colour: red\n",
            "unknown key 'colour'",
        ),
        (
            "    severity: high\n    title: Undeclared usage field",
            "    severity: 7\n    title: Undeclared usage field",
            "7 is not one of",
        ),
        (
            "  - id: usage/schema-violation",
            "  - id: usage/undeclared-field",
            "duplicate rule id 'usage/undeclared-field'",
        ),
        ("    kind: field-schema", "    kind: field-schemas", "unknown check kind 'field-schemas'"),
        ("  IMSent: {type: integer,", "  IMSent: {type: int,", "'int' is not one of"),
        (
            '    message: "usage event carries {field}',
            '    message: "usage event carries {value}',
            "unknown placeholder",
        ),
    ],
    ids=[
        "yaml-syntax",
        "unknown-key",
        "wrong-type",
        "duplicate-id",
        "unknown-kind",
        "bad-field-type",
        "bad-placeholder",
    ],
)
def test_broken_rule_file_is_exit_2_with_file_and_line(
    run_cli, tmp_path: Path, old: str, new: str, needle: str
) -> None:
    folder, line = broken_pack(tmp_path, old, new)
    for args in (
        ["rules", "validate", str(folder)],
        ["scan", "--rules", str(folder), str(RULES.parent / "fixtures/dumps/clean.jsonl")],
    ):
        result = run_cli(*args)
        assert result.code == 2, result.out
        message = result.err.strip()
        assert len(message.splitlines()) == 1 and "Traceback" not in message
        assert needle in message
        assert str(folder / "usage.yaml") in message
        reported = int(message.split("usage.yaml:", 1)[1].split()[0].rstrip(":"))
        assert line <= reported <= line + 2, (reported, line, message)


def test_error_names_the_json_pointer(tmp_path: Path) -> None:
    folder, _ = broken_pack(
        tmp_path, "    kind: declared-fields\n", "    kind: declared-fields\n    colour: red\n"
    )
    with pytest.raises(RuleFileError) as exc:
        load(folder)
    assert exc.value.pointer == "/rules/0/colour"


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    folder, _line = broken_pack(
        tmp_path, "  IMSent: {", "  IMReceived: {type: integer, kind: count}\n  IMSent: {"
    )
    with pytest.raises(RuleFileError) as exc:
        load(folder)
    assert "duplicate key 'IMReceived'" in str(exc.value)


def test_json_rule_files_are_accepted(tmp_path: Path) -> None:
    import json

    import yaml

    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("census", "usage", "error"):
        doc = yaml.safe_load((RULES / f"{name}.yaml").read_text("utf-8"))
        (folder / f"{name}.json").write_text(json.dumps(doc, indent=1), "utf-8")
    assert set(load(folder).rules) == set(load(RULES).rules)


def test_missing_rule_directory(run_cli, tmp_path: Path) -> None:
    result = run_cli("rules", "validate", str(tmp_path / "none"))
    assert result.code == 2 and "does not exist" in result.err


def test_consent_rule_naming_an_unknown_gate_fails_at_load(run_cli, tmp_path: Path) -> None:
    folder, line = broken_pack(tmp_path, "params: {gate: org-tracing}", "params: {gate: org-trace}")
    result = run_cli("rules", "validate", str(folder))
    assert result.code == 2
    assert "gate 'org-trace' is not a consent gate" in result.err
    assert f"usage.yaml:{line}" in result.err


def test_a_rule_file_nested_too_deeply_is_an_error_not_a_crash(run_cli, tmp_path: Path
                                                               ) -> None:
    folder, _line = broken_pack(tmp_path, "rules:\n", "x: " + "[" * 5000 + "]" * 5000
                                + "\nrules:\n")
    result = run_cli("rules", "validate", str(folder))
    assert result.code == 2 and "Traceback" not in result.err
    assert "usage.yaml" in result.err and "nested too deeply" in result.err


def test_yaml_merge_keys_may_override_what_they_merge() -> None:
    """``<<: *anchor`` then a key of its own is no duplicate key, and lines still map."""
    from audit.errors import RuleFileError
    from audit.marked import load

    data, lines = load("base: &b {a: 1, c: 3}\nx:\n  <<: *b\n  a: 2\n", "f.yaml", RuleFileError)
    assert data["x"] == {"a": 2, "c": 3}
    assert lines["/x/a"] == 4


def test_rules_validate_takes_one_rule_file(run_cli) -> None:
    result = run_cli("rules", "validate", str(RULES / "census.yaml"))
    assert result.code == 0, result.err
    census = [r for r in load().rules.values() if r.category == "census"]
    assert result.out.startswith(
        f"1 rule file valid: {len(census)} rules in category census ({RULES / 'census.yaml'}, "
    ), result.out


def test_rules_list_takes_one_rule_file(run_cli) -> None:
    result = run_cli("rules", "list", str(RULES / "usage.yaml"))
    assert result.code == 0, result.err
    assert "usage/undeclared-field" in result.out and "census/" not in result.out


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("    kind: field-schema", "    kind: field-schemas", "unknown check kind 'field-schemas'"),
        ("  - id: usage/schema-violation", "  - id: usage/undeclared-field",
         "duplicate rule id 'usage/undeclared-field'"),
    ],
    ids=["unknown-kind", "duplicate-id"],
)
def test_a_broken_rule_file_alone_names_its_line(
    run_cli, tmp_path: Path, old: str, new: str, needle: str
) -> None:
    folder, line = broken_pack(tmp_path, old, new)
    result = run_cli("rules", "validate", str(folder / "usage.yaml"))
    assert result.code == 2 and "Traceback" not in result.err
    message = result.err.strip()
    assert len(message.splitlines()) == 1
    assert f"{folder / 'usage.yaml'}:{line}" in message and needle in message


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("notes.txt", "not a rule file (*.yaml, *.yml, *.json)"),
        ("rule-pack.schema.json", "a JSON Schema, not a rule file"),
        ("missing.yaml", "does not exist (expected a rule folder or a rule file)"),
    ],
)
def test_a_path_that_is_no_rule_file_is_a_clear_error(
    run_cli, tmp_path: Path, name: str, needle: str
) -> None:
    path = tmp_path / name
    if name != "missing.yaml":
        path.write_text("{}", "utf-8")
    result = run_cli("rules", "validate", str(path))
    assert result.code == 2
    assert result.err.strip() == f"telemetry-audit: error: {path}: {needle}"


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("ext.device.localId", "machine-id"),
        ("ext.user.localId", "account-id"),  # the user's hint comes first
        ("data.MachineId", "machine-id"),
        ("data.vmid", "machine-id"),
        ("SerialNumber", "device-serial"),
        ("data.bios.SERIALNUMBER", "device-serial"),
        ("DeviceSerial.value", "device-serial"),  # the whole dotted name matches
        ("data.OA3ProductKey", "product-key"),
        ("Xuid", "xbox-user-id"),
        ("UserUpn", "account-id"),
        ("data.userEmail", "account-id"),
        ("SipUri2", "account-id"),
        ("ext.app.name", None),
        ("data.RamMB", None),
        ("ProductId", None),  # the product's id names the product, not the installation
    ],
)
def test_field_hints_give_undeclared_fields_a_kind(field: str, kind: str | None) -> None:
    assert load().categories["census"].hinted_kind(field) == kind


def test_field_hints_need_a_known_kind(tmp_path: Path) -> None:
    folder, line = broken_pack(tmp_path, "kind: machine-id}", "kind: machine}", "census.yaml")
    with pytest.raises(RuleFileError) as exc:
        load(folder)
    assert "'machine' is not one of" in str(exc.value)
    assert exc.value.line == line and exc.value.pointer.startswith("/field_hints/")
