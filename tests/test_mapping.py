"""A declarative field mapping audits a nested envelope format without code changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import DIRECTORY, FIXTURES

import audit

DUMP = FIXTURES / "dumps" / "common-schema.jsonl"
MAPPING = FIXTURES / "mappings" / "common-schema.yaml"


def test_mapped_envelope_is_audited_like_the_reference_format() -> None:
    report = audit.scan(inputs=str(DUMP), mapping=str(MAPPING), identities=str(DIRECTORY))
    assert {(f.rule, f.line, f.field) for f in report.findings} == {
        ("census/unhashed-user-id", 2, "UserID"),
        ("census/identifies-user", 2, "UserID"),
        ("census/identifies-user", 3, "DeviceModel"),
        # Unmapped source fields keep their dotted names and are still reported.
        ("census/undeclared-field", 4, "data.tenantName"),
        ("census/identifies-organization", 4, "data.tenantName"),
    }
    assert report.run["mapping"]["path"] == str(MAPPING)


def test_without_the_mapping_nothing_is_routed() -> None:
    report = audit.scan(inputs=str(DUMP))
    assert report.summary.records_rejected == 4
    assert {f.rule for f in report.findings} == {"input/malformed-record"}


def test_constants_fill_absent_fields(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING.read_text("utf-8").replace("  category: data.category\n", "")
                       + "constants:\n  category: census\n", "utf-8")
    report = audit.scan(inputs=str(DUMP), mapping=str(mapping))
    assert report.summary.records_audited == 4


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ("fields:\n  UserID: [ext\n", "invalid YAML", 3),
        ("fields:\n  UserID: ext.user.localId\ncolour: red\n", "unknown key 'colour'", 3),
        ("fields:\n  UserID: ext.user.localId\n  DeviceID: ext.user.localId\n",
         "mapped twice", 3),
        ("fields:\n  UserID: 7\n", "7 is not of type 'string', 'object'", 2),
        ("fields:\n  UserID: {from: a, transform: [rot13]}\n", "'rot13' is not one of", 2),
        ("fields:\n  UserID:\n    from: a\n    transform: [{rot: 13}]\n",
         "unknown key 'rot' (allowed: cs-id, decode, prefix, regex, split)", 4),
        ("fields:\n  UserID: {from: a, transform: [{regex: '(?<=a)b'}]}\n",
         "invalid pattern", 2),
        ("fields:\n  UserID: {join: ' '}\n", "from source fields (from) or is a constant", 2),
        ("route: {field: name, categories: {census: '('}}\n", "invalid pattern", 1),
        ("extends: nothing-shipped\n", "no shipped mapping named 'nothing-shipped'", 1),
    ],
)
def test_bad_mapping_is_exit_2(run_cli, tmp_path: Path, text: str, needle: str,
                               line: int) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(text, "utf-8")
    result = run_cli("scan", str(DUMP), "--mapping", str(mapping), "--format", "json")
    assert result.code == 2
    assert needle in result.err and str(mapping) in result.err
    assert "Traceback" not in result.err
    assert f"{mapping}:{line}" in result.err
