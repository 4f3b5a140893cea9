"""``report.junit.xml``: rules as test cases, for CI test UIs.

Each category is a test suite and each rule a test case, so a CI page shows
which privacy controls passed, failed or could not be tested (and why)
without anyone reading the full report. Suppressed findings do not fail a case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from audit.finding_store import digest_by_rule
from audit.model import Finding, Report, RuleOutcome, Status
from audit.renderers import register

#: Locations listed in a failure body; the count stays exact.
MAX_LOCATIONS = 10
# XML 1.0 cannot carry most control characters, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _location(f: Finding) -> str:
    where = f"{f.source}:{f.line}"
    return f"{where} {f.field}" if f.field else where


def _testcase(suite: ET.Element, outcome: RuleOutcome, sample: list[Finding],
              active: int) -> str:
    case = ET.SubElement(suite, "testcase", classname=_clean(outcome.category),
                         name=_clean(outcome.rule), time="0")
    if outcome.status is Status.FAILED and active:
        lines = [_location(f) for f in sample[:MAX_LOCATIONS]]
        if active > len(lines):
            lines.append(f"... and {active - len(lines)} more")
        message = f"{active} finding{'s' if active != 1 else ''} ({outcome.severity.value})"
        failure = ET.SubElement(case, "failure", message=_clean(message),
                                type=_clean(outcome.severity.value))
        failure.text = _clean("\n".join(lines))
        return "failure"
    if outcome.status is Status.NOT_TESTED:
        ET.SubElement(case, "skipped", message=_clean(outcome.reason or "not tested"))
        return "skipped"
    if outcome.status is Status.ERROR:
        error = ET.SubElement(case, "error", message=_clean(outcome.reason or "check error"),
                              type="error")
        error.text = _clean(outcome.reason or "")
        return "error"
    return "passed"


def build_tree(report: Report) -> ET.Element:
    """The ``<testsuites>`` element: one suite per category, one case per rule."""
    digests = digest_by_rule(report.findings, MAX_LOCATIONS, active_rows=True)
    samples = {rule: d.rows for rule, d in digests.items()}
    active = {rule: d.active for rule, d in digests.items()}

    by_category: dict[str, list[RuleOutcome]] = defaultdict(list)
    for outcome in report.outcomes:
        by_category[outcome.category].append(outcome)

    root = ET.Element("testsuites", name=_clean(report.tool.get("name", "telemetry-audit")))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for category in sorted(by_category):
        suite = ET.SubElement(root, "testsuite", name=_clean(category))
        counts = {"failure": 0, "error": 0, "skipped": 0, "passed": 0}
        for outcome in sorted(by_category[category], key=lambda o: o.rule):
            # A rule may be 'failed' only through suppressed findings: then it passes here.
            kind = _testcase(suite, outcome, samples.get(outcome.rule, []),
                             active.get(outcome.rule, 0))
            counts[kind] += 1
        tests = sum(counts.values())
        suite.set("tests", str(tests))
        suite.set("failures", str(counts["failure"]))
        suite.set("errors", str(counts["error"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", "0")
        if report.run.get("started"):
            suite.set("timestamp", _clean(report.run["started"]))
        totals["tests"] += tests
        totals["failures"] += counts["failure"]
        totals["errors"] += counts["error"]
        totals["skipped"] += counts["skipped"]
    for key, value in totals.items():
        root.set(key, str(value))
    return root


@register("junit", "report.junit.xml")
def render(report: Report) -> bytes:
    """Render ``report`` as JUnit XML."""
    root = build_tree(report)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
