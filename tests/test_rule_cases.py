"""Rule cases: small dumps with the exact findings they must produce.

Each folder ``fixtures/cases/<category>/<slug>/`` holds ``events.jsonl`` and
``expected.json`` (a list of ``[rule, line, field]``), and optionally
``identities.csv``, ``ledger.csv``, ``stage.txt`` and ``stored.jsonl`` (read as the
stored stage beside the events, ``--stored``; its findings' lines are its own). The scan's set of
(rule, line, field) must EQUAL the expected set: a missing finding and an extra
one both fail, so the negative cases (the "context matters" traps of the
design) are as binding as the positive ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import audit
from audit.rulepack import MALFORMED_RULE

CASES = Path(__file__).resolve().parent.parent / "fixtures" / "cases"
CASE_DIRS = sorted(p.parent for p in CASES.glob("*/*/events.jsonl"))


def _expected(case: Path) -> set[tuple[str, int, str | None]]:
    rows = json.loads((case / "expected.json").read_text("utf-8"))
    return {(rule, int(line), field) for rule, line, field in rows}


def _scan(case: Path) -> audit.Report:
    optional = {
        "identities": case / "identities.csv",
        "ledger": case / "ledger.csv",
    }
    kwargs: dict[str, Any] = {name: str(path) for name, path in optional.items()
                              if path.is_file()}
    if (case / "stored.jsonl").is_file():
        kwargs["stored"] = (str(case / "stored.jsonl"),)
    stage_file = case / "stage.txt"
    if stage_file.is_file():
        kwargs["stage"] = stage_file.read_text("utf-8").strip()
    return audit.scan(inputs=str(case / "events.jsonl"), **kwargs)


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_case_produces_exactly_the_expected_findings(case: Path) -> None:
    report = _scan(case)
    errors = [o for o in report.outcomes if o.status.value == "error"]
    assert not errors, [(o.rule, o.reason) for o in errors]
    actual = {(f.rule, f.line, f.field) for f in report.findings}
    expected = _expected(case)
    missing, extra = sorted(expected - actual, key=str), sorted(actual - expected, key=str)
    assert actual == expected, f"missing: {missing}; extra: {extra}"


def test_every_built_in_rule_has_a_positive_case() -> None:
    covered = {rule for case in CASE_DIRS for rule, _, _ in _expected(case)}
    rules = set(audit.load_rule_pack().rules) - {MALFORMED_RULE.id}
    assert rules - covered == set()


@pytest.mark.parametrize(
    ("category", "needle"),
    [
        ("census", '"OSVersion": "10.0.2.15"'),
        ("census", '"UserLanguage": "EN-US"'),
        ("error", '"ConversationThreadID": "AdDO8hsJqilU93hQHC3OZaPR2saEA=="'),
        ("error", '"ErrorCode": "-2147467259"'),
        ("error", '"ClientIP": '),
        ("error", '"SipUri": "sip:'),
        ("usage", '"FederationPartner": "Microsoft.com"'),
        ("usage", '"tenant": "contoso.com"'),
    ],
)
def test_context_traps_have_a_negative_case(category: str, needle: str) -> None:
    """Each trap of the design appears in a case of its category that expects no finding."""
    negatives = [
        case
        for case in CASE_DIRS
        if case.parent.name == category
        and not _expected(case)
        and needle in (case / "events.jsonl").read_text("utf-8")
    ]
    assert negatives, f"no negative {category} case contains {needle}"


def test_cleartext_user_id_rule_is_not_applicable_in_transit() -> None:
    case = CASES / "error" / "cleartext-user-id-at-rest"
    report = audit.scan(inputs=str(case / "events.jsonl"))
    outcome = next(o for o in report.outcomes if o.rule == "error/cleartext-user-id-at-rest")
    assert outcome.status.value == "not_applicable"
    assert "stored" in (outcome.reason or "")
    assert not [f for f in report.findings if f.rule == outcome.rule]


def test_identity_rules_run_without_a_directory() -> None:
    """Without --identities the content rules still run (pattern detectors only)."""
    report = audit.scan(inputs=str(CASES / "census" / "identifies-user" / "events.jsonl"))
    status = {o.rule: o.status.value for o in report.outcomes}
    assert status["census/identifies-user"] == "failed"
    assert status["census/identifies-organization"] == "passed"
    assert status["census/unhashed-user-id"] == "passed"
