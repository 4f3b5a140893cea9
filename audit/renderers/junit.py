"""``report.junit.xml``: rules as test cases, for CI test UIs.

Each category is a test suite and each rule a test case, so a CI page shows
which privacy controls passed, failed or could not be tested (and why)
without anyone reading the full report. The page must agree with the exit
code: a rule fails only with active findings at or above ``--fail-on``; one
whose findings are all below it, or all accepted by the baseline, passes and
lists them in ``system-out``. Rules not tested, not applicable or excluded are
skipped with their reason, and a last suite, ``audit``, holds one case that is
skipped with the reasons the audit is incomplete (and passes when it is not).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from audit.finding_store import digest_by_rule
from audit.locations import where
from audit.model import Finding, Report, RuleOutcome, Severity, Status
from audit.renderers import register

#: Findings listed in a failure body or system-out; the count stays exact.
MAX_LOCATIONS = 10
#: The test case that says whether the audit covered its whole input.
COMPLETENESS_CASE = "audit/complete"
# XML 1.0 cannot carry most control characters, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SKIPPED_PREFIX = {Status.NOT_TESTED: "not tested", Status.NOT_APPLICABLE: "not applicable",
                   Status.EXCLUDED: "excluded"}


def _clean(text: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _entry(f: Finding) -> str:
    """One finding in a body: where, and its (masked) message and evidence."""
    place = where(f.source, f.line, f.location) + (f" {f.field}" if f.field else "")
    evidence = f" [{f.evidence}]" if f.evidence else ""
    return f"{place}: {f.message}{evidence}"


def _listing(sample: list[Finding], count: int) -> list[str]:
    lines = [_entry(f) for f in sample[:MAX_LOCATIONS]]
    if count > len(lines):
        lines.append(f"... and {count - len(lines)} more")
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _testcase(suite: ET.Element, outcome: RuleOutcome, sample: list[Finding], active: int,
              fail_on: Severity) -> str:
    case = ET.SubElement(suite, "testcase", classname=_clean(outcome.category),
                         name=_clean(outcome.rule), time="0")
    if outcome.status is Status.ERROR:
        error = ET.SubElement(case, "error", message=_clean(outcome.reason or "check error"),
                              type="error")
        error.text = _clean(outcome.reason or "")
        return "error"
    if outcome.status in _SKIPPED_PREFIX:
        why = f"{_SKIPPED_PREFIX[outcome.status]}: {outcome.reason or 'no reason given'}"
        ET.SubElement(case, "skipped", message=_clean(why))
        return "skipped"
    out: list[str] = []
    if active and outcome.severity.rank >= fail_on.rank:
        message = f"{_plural(active, 'finding')} ({outcome.severity.value})"
        failure = ET.SubElement(case, "failure", message=_clean(message),
                                type=_clean(outcome.severity.value))
        failure.text = _clean("\n".join(_listing(sample, active)))
        kind = "failure"
    else:
        kind = "passed"
        if active:
            out.append(f"{_plural(active, 'active finding')} ({outcome.severity.value}), "
                       f"below --fail-on {fail_on.value}:")
            out += _listing(sample, active)
    if outcome.acceptances:
        out.append(f"{_plural(outcome.accepted, 'finding')} accepted by the baseline:")
        out += [f"{a.findings} accepted: {a}" for a in outcome.acceptances]
    if out:
        ET.SubElement(case, "system-out").text = _clean("\n".join(out))
    return kind


def _completeness(root: ET.Element, report: Report) -> str:
    """The ``audit`` suite: skipped with every reason the audit is incomplete."""
    suite = ET.SubElement(root, "testsuite", name="audit", tests="1", failures="0",
                          errors="0", time="0")
    case = ET.SubElement(suite, "testcase", classname="audit", name=COMPLETENESS_CASE,
                         time="0")
    gaps = report.summary.gaps
    suite.set("skipped", "1" if gaps else "0")
    if not gaps:
        return "passed"
    skipped = ET.SubElement(case, "skipped", message=_clean(
        f"audit incomplete: {'; '.join(g.message for g in gaps)}"))
    skipped.text = _clean("\n".join(g.message for g in gaps))
    return "skipped"


def build_tree(report: Report) -> ET.Element:
    """The ``<testsuites>`` element: one suite per category, one case per rule."""
    fail_on = report.summary.fail_on
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
            kind = _testcase(suite, outcome, samples.get(outcome.rule, []),
                             active.get(outcome.rule, 0), fail_on)
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
    totals["tests"] += 1
    if _completeness(root, report) == "skipped":
        totals["skipped"] += 1
    for key, value in totals.items():
        root.set(key, str(value))
    return root


@register("junit", "report.junit.xml")
def render(report: Report) -> bytes:
    """Render ``report`` as JUnit XML."""
    root = build_tree(report)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
