"""``report.sarif``: SARIF 2.1.0 for code-scanning UIs.

One result per finding, each with a physical location (the dump file and its
line) because code-scanning uploads reject results without one, and a
``partialFingerprints`` entry so the UI tracks a finding across runs the same
way our baselines do. Baseline-accepted findings stay in the log as
suppressed results rather than disappearing, so the acceptance is auditable.

Rejected records are the exception: a million of them (a JSON array of nulls)
made a log of nearly a gigabyte, one alike result each. The log lists the first
of each file and reason (:mod:`audit.renderers.rejected`) and says, in a tool
execution notification and the run's properties, how many there are by file and
reason and how many are not listed; report.json lists them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import PurePosixPath, PureWindowsPath
from typing import IO, Any
from urllib.parse import quote

from audit.finding_store import digest_by_rule, finding_dicts
from audit.model import BaselineStatus, Report, RuleOutcome, Severity, Status, Verdict
from audit.renderers import as_bytes, register_stream
from audit.renderers.rejected import RULE as REJECTED_RULE
from audit.renderers.rejected import RejectedSummary, finding_batches, summarize_rejected
from audit.renderers.streaming import new_marker, write_json

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "telemetryAudit/v1"
#: Notification descriptors of the reasons an audit is incomplete (one per gap code).
INCOMPLETE_ID = "telemetry-audit/incomplete"
GAP_TITLES = {
    "no-records": "No record was audited",
    "rejected": "Records rejected or files skipped beyond --max-rejected",
    "not-tested": "Applicable rules not tested for lack of input",
}
#: Notification descriptor of the rejected records not listed as results.
NOT_LISTED_ID = "telemetry-audit/rejected-not-listed"
#: (file, reason) pairs the notification counts apart.
NOTED_GROUPS = 100


@lru_cache(maxsize=4096)
def artifact_uri(path: str) -> str:
    """A URI reference for a file path: relative paths stay relative (so code
    scanning resolves them against the checkout), absolute ones become file URIs.
    Worked out once per input file, not once per result."""
    text = path.replace("\\", "/") if PureWindowsPath(path).drive else path
    if PureWindowsPath(path).drive:
        return "file:///" + quote(text, safe="/:")
    if PurePosixPath(text).is_absolute():
        return "file://" + quote(text, safe="/")
    return quote(text, safe="/")


def _utc(value: object) -> str | None:
    """SARIF wants UTC date-times; anything unparsable is left out, not guessed."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rule_descriptor(outcome: RuleOutcome, statements: dict[str, str]) -> dict[str, Any]:
    short = outcome.description or outcome.rule
    full = short
    statement = statements.get(outcome.policy or "")
    if statement:
        full = f"{short} Policy: \u201c{statement}\u201d"
    descriptor: dict[str, Any] = {
        "id": outcome.rule,
        "name": outcome.rule.replace("/", "_").replace("-", "_"),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": outcome.severity.sarif_level},
        "properties": {
            "category": outcome.category,
            "severity": outcome.severity.value,
            "tags": ["privacy", outcome.category],
            "status": outcome.status.value,
        },
    }
    if outcome.help:
        descriptor["help"] = {"text": outcome.help}
    if outcome.policy:
        descriptor["properties"]["policy"] = outcome.policy
    if outcome.reason:
        descriptor["properties"]["reason"] = outcome.reason
    if outcome.acceptances:
        descriptor["properties"]["acceptances"] = [a.to_dict() for a in outcome.acceptances]
    return descriptor


def _result(finding: dict[str, Any], rule_index: int | None, accepted: dict[str, str]
            ) -> dict[str, Any]:
    """One result from a finding as a dict (:meth:`Finding.to_dict`)."""
    field_name = finding["field"]
    location = finding.get("location")  # a HAR record: its entry and line in the body
    text = finding["message"]
    if field_name:
        text = f"{text} (field {field_name})"
    if location:
        text = f"{text} at {location}"
    result: dict[str, Any] = {
        "ruleId": finding["rule"],
        "level": _LEVELS[finding["severity"]],
        "message": {"text": text},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": artifact_uri(finding["source"])},
                # Line 0 means "no line" (e.g. a file-level problem); SARIF lines start at 1.
                "region": {"startLine": max(1, int(finding["line"]))},
            },
        }],
        "partialFingerprints": {FINGERPRINT_KEY: finding["fingerprint"]},
        "properties": {
            "severity": finding["severity"],
            "category": finding["category"],
            "field": field_name,
            "evidence": finding["evidence"],
            "baseline": finding["baseline"],
        },
    }
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    if field_name:
        result["locations"][0]["logicalLocations"] = [
            {"fullyQualifiedName": field_name, "kind": "member"}
        ]
    if location:
        result["properties"]["location"] = location
    if finding["detector"]:
        result["properties"]["detector"] = finding["detector"]
    if finding["explanation"]:
        result["properties"]["explanation"] = finding["explanation"]
    if finding["baseline"] == BaselineStatus.SUPPRESSED.value:
        justification = accepted.get(finding["fingerprint"]) or "accepted in the baseline"
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": justification}
        ]
    return result


_LEVELS = {s.value: s.sarif_level for s in Severity}


def build_log(report: Report) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict (tests validate it against the schema)."""
    log, results = _log_and_results(report)
    log["runs"][0]["results"] = list(results)
    return log


def _log_and_results(report: Report) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The SARIF log without its results, and the results, made lazily as they are
    written (one finding at a time)."""
    run_info = report.run
    rulepack = run_info.get("rulepack") or {}
    statements = dict(rulepack.get("statements") or {})
    outcomes = list(report.outcomes)
    known = {o.rule for o in outcomes}
    # A finding whose rule has no outcome still needs a descriptor to point at: its
    # rule's first finding gives the category and severity.
    digests = digest_by_rule(report.findings, 1)
    for rule, digest in digests.items():
        if rule not in known:
            first = digest.rows[0]
            outcomes.append(RuleOutcome(rule=rule, category=first.category,
                                        severity=first.severity, status=Status.FAILED,
                                        findings=0))
    index = {o.rule: i for i, o in enumerate(outcomes)}
    accepted = dict(report.extras.get("baseline_reasons") or {})

    driver: dict[str, Any] = {
        "name": str(report.tool.get("name", "telemetry-audit")),
        "rules": [_rule_descriptor(o, statements) for o in outcomes],
    }
    rejected = summarize_rejected(report.findings) \
        if digests.get(REJECTED_RULE) and digests[REJECTED_RULE].total else None
    cut = rejected is not None and rejected.not_listed > 0
    codes = dict.fromkeys(gap.code for gap in report.summary.gaps)
    descriptors = [
        {"id": f"{INCOMPLETE_ID}/{code}", "shortDescription": {"text": GAP_TITLES[code]},
         "defaultConfiguration": {"level": "warning"}}
        for code in codes
    ]
    if cut:
        descriptors.append({"id": NOT_LISTED_ID, "shortDescription": {
            "text": "Rejected records counted, not each listed as a result"},
            "defaultConfiguration": {"level": "note"}})
    if descriptors:
        driver["notifications"] = descriptors
    version = report.tool.get("version")
    if version:
        driver["version"] = str(version)
        driver["semanticVersion"] = str(version)
    info = report.tool.get("information_uri") or report.tool.get("url")
    if info:
        driver["informationUri"] = str(info)

    invocation: dict[str, Any] = {
        "executionSuccessful": not any(o.status is Status.ERROR for o in report.outcomes),
    }
    if run_info.get("command"):
        invocation["commandLine"] = str(run_info["command"])
    for key, name in (("started", "startTimeUtc"), ("finished", "endTimeUtc")):
        stamp = _utc(run_info.get(key))
        if stamp:
            invocation[name] = stamp
    notifications = [
        {"level": "error", "message": {"text": f"{o.rule}: {o.reason or 'check failed'}"},
         "descriptor": {"id": o.rule}}
        for o in report.outcomes if o.status is Status.ERROR
    ]
    # What the verdict does not vouch for: the run worked, but did not audit everything.
    notifications += [
        {"level": "warning", "message": {"text": f"audit incomplete: {gap.message}"},
         "descriptor": {"id": f"{INCOMPLETE_ID}/{gap.code}"},
         "properties": {"code": gap.code, "rules": list(gap.rules)}}
        for gap in report.summary.gaps
    ]
    if cut:
        assert rejected is not None
        notifications.append(_not_listed(rejected))
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    artifacts = []
    for item in run_info.get("inputs") or ():
        artifact: dict[str, Any] = {
            "location": {"uri": artifact_uri(str(item.get("path", "")))},
            "roles": ["analysisTarget"],
        }
        if item.get("sha256"):
            artifact["hashes"] = {"sha-256": str(item["sha256"])}
        artifact["properties"] = {"format": item.get("format"), "records": item.get("records"),
                                  "rejected": item.get("rejected")}
        artifacts.append(artifact)

    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "results": [],
        "columnKind": "unicodeCodePoints",
        "properties": {
            "stage": run_info.get("stage"),
            "rulepackDigest": rulepack.get("digest"),
            "verdict": Verdict(report.summary.verdict).value,
            "failOn": report.summary.fail_on.value,
            "incomplete": [gap.message for gap in report.summary.gaps],
        },
    }
    if rejected is not None:
        run["properties"]["rejectedRecords"] = {
            "total": rejected.total, "listed": rejected.listed,
            "notListed": rejected.not_listed, "perFileAndReason": rejected.per_reason,
            "mostListed": rejected.most}
    if artifacts:
        run["artifacts"] = artifacts
    rows = _listed_dicts(report, rejected) if cut else finding_dicts(report.findings)
    results = (_result(f, index.get(f["rule"]), accepted) for f in rows)
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}, results


def _listed_dicts(report: Report, rejected: RejectedSummary) -> Iterator[dict[str, Any]]:
    """The findings as dicts, of the rejected records only those listed: the others are
    dropped in Arrow, so a million of them cost no Python object."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    offset = 0
    for batch in finding_batches(report.findings):
        n = batch.num_rows
        keep = pc.not_equal(batch.column("rule"), REJECTED_RULE).to_numpy(zero_copy_only=False)
        if not keep.all():
            at = rejected.positions[np.searchsorted(rejected.positions, offset):
                                    np.searchsorted(rejected.positions, offset + n)]
            keep = keep.copy()
            keep[at - offset] = True
            batch = batch.filter(pa.array(keep))
        offset += n
        yield from batch.to_pylist()


def _not_listed(rejected: RejectedSummary) -> dict[str, Any]:
    """The notification of the rejected records left out of the results: how many, by
    file and reason (the largest pairs), and which were listed."""
    largest = rejected.largest(NOTED_GROUPS)
    top = largest[0]
    text = (f"{rejected.not_listed:,} of {rejected.total:,} rejected records "
            f"({REJECTED_RULE}) are not listed as results: the first {rejected.per_reason:,} "
            f"of each file and reason are, at most {rejected.most:,} in all; report.json "
            f"lists every one. Most: {top.count:,} in {top.source}: {top.reason}")
    groups = [{"uri": artifact_uri(g.source), "reason": g.reason, "count": g.count,
               "listed": g.listed} for g in largest]
    properties: dict[str, Any] = {
        "total": rejected.total, "listed": rejected.listed, "notListed": rejected.not_listed,
        "perFileAndReason": rejected.per_reason, "mostListed": rejected.most,
        "byFileAndReason": groups,
    }
    rest = rejected.total - sum(g.count for g in largest)
    if rest:
        properties["otherFilesAndReasons"] = rest  # records of the smaller pairs
    return {"level": "note", "message": {"text": text}, "descriptor": {"id": NOT_LISTED_ID},
            "properties": properties}


@register_stream("sarif", "report.sarif")
def write(report: Report, out: IO[bytes]) -> None:
    """Write ``report`` as a SARIF 2.1.0 log, the results streamed one at a time."""
    marker = new_marker()
    log, results = _log_and_results(report)
    log["runs"][0]["results"] = marker
    write_json(log, out, marker, results)


render = as_bytes(write)
