"""Builders of the shared Report for every renderer test, from the model alone.

The renderers must work from a Report whatever produced it, so the fixture
does not run the engine. ``RAW_VALUE`` is the unmasked value behind the
masked evidence; it is kept here only to prove it never reaches an output.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

from audit.model import (
    Acceptance,
    BaselineStatus,
    Finding,
    Gap,
    Report,
    RuleOutcome,
    Severity,
    Status,
    Summary,
    Verdict,
)

RAW_VALUE = "amos.marble@contoso.com"
MASKED_VALUE = "am•••om#1a2b3c"
PAYLOAD = '<script>alert(1)</script>|pipe'

STATEMENTS = {
    "census-no-user": "Census data DOES NOT contain any information that identifies "
                      "your organization or users.",
    "census-userid-hashed": "The hashing ensures the ID cannot be linked to a specific user.",
    "usage-disable": "on-premises admins can turn it off using the "
                     "DisableAutomaticSendTracing Group Policy setting",
    "error-opt-in": "End users individually opt in from the General tab",
    "error-watson": "for crashes on Windows, the Watson settings control uploading crash info.",
}


def make_finding(rule: str, severity: Severity, *, line: int = 1, field: str | None = "UserID",
                 source: str = "dumps/sample.jsonl", evidence: str | None = MASKED_VALUE,
                 message: str = "user-identifying value", fingerprint: str | None = None,
                 baseline: BaselineStatus = BaselineStatus.ACTIVE) -> Finding:
    """A finding with sensible defaults; the fingerprint depends on rule and line."""
    return Finding(
        rule=rule,
        category=rule.split("/")[0],
        severity=severity,
        source=source,
        line=line,
        field=field,
        message=message,
        evidence=evidence,
        fingerprint=fingerprint or hashlib.sha256(f"{rule}:{line}".encode()).hexdigest()[:32],
        detector="EMAIL",
        explanation="EMAIL via pattern",
        baseline=baseline,
    )


def default_findings() -> list[Finding]:
    return [
        make_finding("census/unhashed-user-id", Severity.CRITICAL, line=3),
        make_finding("census/unhashed-user-id", Severity.CRITICAL, line=7,
                     baseline=BaselineStatus.SUPPRESSED),
        make_finding("census/identifies-user", Severity.HIGH, line=4, field="DeviceModel",
                     message=f"name in device model {PAYLOAD}"),
        make_finding("usage/collected-while-disabled", Severity.HIGH, line=12, field=None,
                     evidence=None, message="usage data while DisableAutomaticSendTracing=true",
                     source="dumps/usage|2.jsonl"),
        make_finding("usage/undeclared-field", Severity.LOW, line=9, field="ext.debug",
                     baseline=BaselineStatus.EXPIRED),
        make_finding("input/malformed-record", Severity.MEDIUM, line=0, field=None,
                     evidence=None, message="line is not JSON"),
        make_finding("census/device-id-not-random", Severity.HIGH, line=5, field="DeviceID",
                     message="nil GUID", baseline=BaselineStatus.SUPPRESSED),
    ]

#: Why the default report's one accepted rule is accepted.
ACCEPTANCE = Acceptance(reason="lab devices <b>reuse</b> a nil id", owner="release-eng",
                        expires="2999-12-31", findings=1)

#: The default report's reasons for being incomplete (it fails as well).
DEFAULT_GAPS = (
    Gap(code="rejected", message="1 of 20 records rejected (see input/malformed-record): "
        "more than --max-rejected 0 allows"),
    Gap(code="not-tested", rules=("error/no-opt-in",),
        message="1 applicable rule not tested (error/no-opt-in): no --ledger given"),
)


def default_outcomes(findings: Sequence[Finding]) -> list[RuleOutcome]:
    counts = Counter(f.rule for f in findings if f.baseline is not BaselineStatus.SUPPRESSED)
    accepted = Counter(f.rule for f in findings if f.baseline is BaselineStatus.SUPPRESSED)

    def outcome(rule: str, sev: Severity, status: Status, policy: str | None = None,
                reason: str | None = None) -> RuleOutcome:
        return RuleOutcome(rule=rule, category=rule.split("/")[0], severity=sev, status=status,
                           findings=counts.get(rule, 0), reason=reason,
                           description=f"checks {rule}", policy=policy,
                           help=f"See the practices statement for {rule}.",
                           accepted=accepted.get(rule, 0),
                           acceptances=(ACCEPTANCE,) if status is Status.ACCEPTED else ())

    return [
        outcome("census/unhashed-user-id", Severity.CRITICAL, Status.FAILED,
                "census-userid-hashed"),
        outcome("census/identifies-user", Severity.HIGH, Status.FAILED, "census-no-user"),
        outcome("census/identifies-organization", Severity.HIGH, Status.PASSED,
                "census-no-user"),
        outcome("usage/collected-while-disabled", Severity.HIGH, Status.FAILED, "usage-disable"),
        outcome("error/no-opt-in", Severity.HIGH, Status.NOT_TESTED, "error-opt-in",
                reason="no --ledger given"),
        outcome("error/watson-disabled", Severity.MEDIUM, Status.ERROR, "unknown-statement",
                reason="check raised KeyError: 'crash'"),
        outcome("usage/undeclared-field", Severity.LOW, Status.FAILED, None),
        outcome("input/malformed-record", Severity.MEDIUM, Status.FAILED, None),
        outcome("census/device-id-not-random", Severity.HIGH, Status.ACCEPTED,
                "census-no-user"),
        outcome("error/cleartext-user-id-at-rest", Severity.HIGH, Status.NOT_APPLICABLE,
                "error-opt-in", reason="applies at stage stored only (this scan: transit)"),
        outcome("usage/meeting-telemetry-disabled", Severity.HIGH, Status.EXCLUDED,
                "usage-disable", reason="excluded by --skip-rule usage/meeting-*"),
    ]


def build_report(findings: Sequence[Finding] | None = None, *,
                 outcomes: Sequence[RuleOutcome] | None = None, show_evidence: bool = False,
                 extras: dict[str, Any] | None = None, gaps: Sequence[Gap] = DEFAULT_GAPS,
                 fail_on: Severity = Severity.HIGH) -> Report:
    """A complete Report; counts in the summary follow the findings given, the verdict
    follows them and ``gaps``."""
    findings = list(default_findings() if findings is None else findings)
    outcomes = list(default_outcomes(findings) if outcomes is None else outcomes)
    active = [f for f in findings if f.baseline is not BaselineStatus.SUPPRESSED]
    by_sev = Counter(f.severity.value for f in active)
    failing = any(f.severity.rank >= fail_on.rank for f in active)
    verdict = Verdict.FAIL if failing else Verdict.INCOMPLETE if gaps else Verdict.PASS
    summary = Summary(
        records_read=20, records_audited=19, records_rejected=1,
        findings_total=len(findings),
        findings_by_rule=dict(Counter(f.rule for f in active)),
        findings_by_severity={s.value: by_sev.get(s.value, 0) for s in Severity},
        suppressed=sum(f.baseline is BaselineStatus.SUPPRESSED for f in findings),
        expired=sum(f.baseline is BaselineStatus.EXPIRED for f in findings),
        fail_on=fail_on, verdict=verdict, gaps=tuple(gaps),
    )
    run = {
        "stage": "transit",
        "started": "2024-05-01T10:00:00+00:00",
        "finished": "2024-05-01T10:00:03+00:00",
        "command": "telemetry-audit scan dumps/sample.jsonl --ledger ledger.csv",
        "rulepack": {
            "digest": "sha256:" + "ab" * 32,
            "files": [{"path": "rules/census.yaml", "sha256": "cd" * 32}],
            "statements": STATEMENTS,
        },
        "inputs": [{"path": "dumps/sample.jsonl", "format": "jsonl", "sha256": "ef" * 32,
                    "records": 20, "rejected": 1}],
        "ledger": {"path": "ledger.csv", "sha256": "12" * 32},
        "identities": None,
        "parameters": {"fail_on": fail_on.value, "formats": ["html", "sarif", "junit", "md"],
                       "show_evidence": show_evidence, "baseline": None},
    }
    default_extras = {
        "consent_timeline": [
            {"scope": "org", "subject": "co•••om#9f8e7d", "setting": "DisableAutomaticSendTracing",
             "changes": [{"since": "2024-04-01T00:00:00+00:00", "value": "false", "events": 8},
                         {"since": "2024-04-10T00:00:00+00:00", "value": "true", "events": 3}]},
        ],
    }
    return Report(
        tool={"name": "telemetry-audit", "version": "0.1.0"},
        run=run, summary=summary, outcomes=tuple(outcomes), findings=tuple(findings),
        extras=default_extras if extras is None else extras,
    )
