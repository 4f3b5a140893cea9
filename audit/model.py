"""Frozen domain values passed between the pipeline stages.

Everything a renderer needs is in a :class:`Report`; nothing here holds raw
values from a dump (evidence is masked before a :class:`Finding` is built).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class Severity(enum.Enum):
    """Ordered severities; ``rank`` drives ``--fail-on``, ``sarif_level`` SARIF."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def sarif_level(self) -> str:
        if self in (Severity.CRITICAL, Severity.HIGH):
            return "error"
        return "warning" if self is Severity.MEDIUM else "note"

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of {names})") from None

    def __str__(self) -> str:
        return self.value


_RANKS = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Stage(enum.Enum):
    """Where the data was captured: sent by a client, or stored by the service."""

    TRANSIT = "transit"
    STORED = "stored"

    def __str__(self) -> str:
        return self.value


class Status(enum.Enum):
    """Outcome of one rule over the whole scan.

    ``not_tested`` means the rule applied but could not decide for lack of input (no
    ledger, a field it needs never present): the verdict cannot vouch for it.
    ``not_applicable`` means there was nothing for it to test (a stored-only rule in a
    transit scan, no events of its category or selection), ``excluded`` that the user
    left it out (``--skip-rule``); neither makes a scan incomplete. ``accepted``: every
    finding it raised is accepted by the baseline, which is not the same as passing.
    """

    PASSED = "passed"
    FAILED = "failed"
    ACCEPTED = "accepted"
    NOT_TESTED = "not_tested"
    NOT_APPLICABLE = "not_applicable"
    EXCLUDED = "excluded"
    ERROR = "error"

    @property
    def label(self) -> str:
        """The status in words, as reports show it."""
        return self.value.replace("_", " ")

    def __str__(self) -> str:
        return self.value


#: Worst first: the order reports list rule outcomes in.
STATUS_ORDER = {status: i for i, status in enumerate((
    Status.ERROR, Status.FAILED, Status.NOT_TESTED, Status.ACCEPTED, Status.PASSED,
    Status.NOT_APPLICABLE, Status.EXCLUDED))}


class Verdict(str, enum.Enum):
    """What the scan vouches for. A ``str`` so that ``verdict == "fail"`` reads naturally.

    FAIL: active findings at or above ``--fail-on`` (it outranks INCOMPLETE).
    INCOMPLETE: no findings that fail, but part of the input or of the applicable rules
    went unaudited (see :class:`Gap`). PASS: everything applicable was audited and passed.
    """

    PASS = "pass"
    FAIL = "fail"
    INCOMPLETE = "incomplete"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """One reason a verdict cannot vouch for the whole input.

    ``code`` is one of ``no-records`` (nothing was audited), ``rejected`` (records
    rejected or inputs skipped beyond ``--max-rejected``) and ``not-tested`` (applicable
    rules that could not decide, listed in ``rules``).
    """

    code: str
    message: str
    rules: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "rules": list(self.rules)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Acceptance:
    """Baseline entries of one reason, owner and expiry that matched a rule's findings."""

    reason: str
    owner: str
    expires: str
    findings: int
    expired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        until = "expired" if self.expired else "until"
        return f"{self.reason} (owner {self.owner}, {until} {self.expires})"


class BaselineStatus(enum.Enum):
    """Whether a finding is active, accepted by a baseline, or accepted but expired."""

    ACTIVE = "active"
    SUPPRESSED = "suppressed"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One violation in one record. ``evidence`` is always masked unless the
    user asked for ``--show-evidence``; ``fingerprint`` never depends on the line."""

    rule: str
    category: str
    severity: Severity
    source: str
    line: int
    field: str | None
    message: str
    evidence: str | None
    fingerprint: str
    detector: str | None = None
    explanation: str | None = None
    baseline: BaselineStatus = BaselineStatus.ACTIVE
    #: where the record is within its input when ``line`` alone does not say it (a HAR
    #: record: ``entry 3, line 2``, see :mod:`audit.locations`); None elsewhere
    location: str | None = None

    @property
    def active(self) -> bool:
        return self.baseline is not BaselineStatus.SUPPRESSED

    def to_dict(self) -> dict[str, Any]:
        """The finding in report.json; ``location`` only where there is one."""
        where = {} if self.location is None else {"location": self.location}
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.value,
            "source": self.source,
            "line": self.line,
            **where,
            "field": self.field,
            "message": self.message,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
            "detector": self.detector,
            "explanation": self.explanation,
            "baseline": self.baseline.value,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOutcome:
    """What one rule concluded: drives JUnit, the HTML policy map and 'not tested'."""

    rule: str
    category: str
    severity: Severity
    status: Status
    findings: int
    reason: str | None = None
    description: str = ""
    policy: str | None = None
    help: str | None = None
    #: findings accepted by the baseline (not counted in ``findings``, which are active)
    accepted: int = 0
    acceptances: tuple[Acceptance, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.value,
            "status": self.status.value,
            "findings": self.findings,
            "accepted": self.accepted,
            "reason": self.reason,
            "acceptances": [a.to_dict() for a in self.acceptances],
            "description": self.description,
            "policy": self.policy,
            "help": self.help,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryInfo:
    """The records one entry of a capture (a HAR request) gave: its 1-based place in
    ``log.entries``, its URL (without query), the line (record index) of its first
    record, and how many it gave, were audited and were rejected."""

    entry: int
    url: str
    first: int
    records: int
    audited: int
    rejected: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class InputInfo:
    """One input file: where it came from and how many of its records were used.

    ``entries`` (HAR captures only, else None) are its requests that gave records, in
    order; their records add up to ``records`` but for a capture's unread rest."""

    path: str
    format: str
    sha256: str
    records: int
    rejected: int
    entries: tuple[EntryInfo, ...] | None = None
    #: the stage it was read as: ``--stage``, or stored for a ``--stored`` input
    stage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {"path": self.path, "format": self.format,
                                "sha256": self.sha256, "records": self.records,
                                "rejected": self.rejected}
        if self.stage is not None:
            info["stage"] = self.stage
        if self.entries is not None:
            info["entries"] = [entry.to_dict() for entry in self.entries]
        return info


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Counts and the verdict. ``records_read == records_audited + records_rejected``.

    ``findings_total`` counts every finding; ``suppressed`` those the baseline accepts;
    the rest are active, ``expired`` of them matched by a baseline entry past its date.
    ``skipped_inputs`` are files of the input folders that were not read. ``gaps`` say
    why the verdict is INCOMPLETE (and are listed whatever the verdict).
    """

    records_read: int
    records_audited: int
    records_rejected: int
    findings_total: int
    findings_by_rule: Mapping[str, int]
    findings_by_severity: Mapping[str, int]
    suppressed: int
    expired: int
    fail_on: Severity
    verdict: Verdict
    skipped_inputs: int = 0
    gaps: tuple[Gap, ...] = ()

    @property
    def findings_active(self) -> int:
        return self.findings_total - self.suppressed

    def to_dict(self) -> dict[str, Any]:
        return {
            "records_read": self.records_read,
            "records_audited": self.records_audited,
            "records_rejected": self.records_rejected,
            "findings_total": self.findings_total,
            "findings_by_rule": dict(self.findings_by_rule),
            "findings_by_severity": dict(self.findings_by_severity),
            "suppressed": self.suppressed,
            "expired": self.expired,
            "fail_on": self.fail_on.value,
            "verdict": Verdict(self.verdict).value,
            "findings_active": self.findings_active,
            "skipped_inputs": self.skipped_inputs,
            "incomplete": [g.to_dict() for g in self.gaps],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The single value every renderer receives.

    ``run`` is a JSON-ready mapping (stage, rule pack, inputs, parameters,
    command line, times); ``extras`` carries optional sections added by checks,
    such as the consent timeline.
    """

    tool: Mapping[str, str]
    run: Mapping[str, Any]
    summary: Summary
    outcomes: tuple[RuleOutcome, ...]
    findings: Sequence[Finding]
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.summary.verdict == Verdict.FAIL

    @property
    def incomplete(self) -> bool:
        return self.summary.verdict == Verdict.INCOMPLETE

    def to_dict(self, findings: Any = None) -> dict[str, Any]:
        """The report.json document; ``findings`` replaces the list of findings (a
        writer that streams them passes a placeholder)."""
        doc: dict[str, Any] = {
            "tool": dict(self.tool),
            "run": dict(self.run),
            "summary": self.summary.to_dict(),
            "outcomes": [o.to_dict() for o in self.outcomes],
            "findings": [f.to_dict() for f in self.findings] if findings is None else findings,
        }
        doc.update(self.extras)
        return doc
