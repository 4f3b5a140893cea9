"""report.html in a real browser: hostile data stays text, nothing runs, the filter works.

The Report is built from the model alone (no engine) and its findings carry
HTML and script payloads in every field a dump controls. The test fails, not
skips, when Chromium is missing: CI must run it.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from pathlib import Path

import pytest

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
from audit.renderers import html

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "reports" / "screenshots" / "report.png"

PAYLOADS = [
    "<script>window.__pwned=1;alert(1)</script>",
    "<img src=x onerror=\"window.__pwned=1;alert(1)\">",
    "javascript:window.__pwned=1;alert(1)",
    "</textarea><script>window.__pwned=1</script>",
    "\"><svg onload=\"window.__pwned=1;alert(1)\">",
    "'><iframe srcdoc=\"<script>parent.__pwned=1</script>\">",
    "</script><script>window.__pwned=1</script>",
]


def _finding(i: int, rule: str, severity: Severity, payload: str) -> Finding:
    return Finding(
        rule=rule, category=rule.split("/")[0], severity=severity,
        source=f"dumps/{payload}.jsonl" if i % 2 else "dumps/capture.jsonl",
        line=i + 1, field=payload if i % 3 == 0 else "UserID",
        message=f"identifying value {payload}", evidence=payload,
        fingerprint=f"{i:032x}", detector="EMAIL", explanation=payload,
        baseline=BaselineStatus.SUPPRESSED if i == 5 else BaselineStatus.ACTIVE,
    )


@pytest.fixture
def hostile_report() -> Report:
    rules = [("census/unhashed-user-id", Severity.CRITICAL),
             ("census/identifies-user", Severity.HIGH),
             ("usage/identifies-user", Severity.MEDIUM),
             ("error/secret-in-error-data", Severity.LOW)]
    findings = [
        _finding(i, *rules[i % len(rules)], PAYLOADS[i % len(PAYLOADS)]) for i in range(28)
    ]
    counts = Counter(f.rule for f in findings)
    outcomes = [
        RuleOutcome(rule=r, category=r.split("/")[0], severity=s, status=Status.FAILED,
                    findings=counts[r], description=f"Finds {r}", policy="census-no-user",
                    help="Fix the client.")
        for r, s in rules
    ] + [
        RuleOutcome(rule="error/no-opt-in", category="error", severity=Severity.HIGH,
                    status=Status.NOT_TESTED, findings=0, reason=PAYLOADS[0],
                    description="opt-in", policy="error-opt-in"),
        RuleOutcome(rule="census/device-id-not-random", category="census",
                    severity=Severity.HIGH, status=Status.PASSED, findings=0,
                    description="random DeviceID", policy="census-device-id"),
    ]
    active = [f for f in findings if f.active]
    by_sev = Counter(f.severity.value for f in active)
    summary = Summary(
        records_read=1200, records_audited=1190, records_rejected=10,
        findings_total=len(active), findings_by_rule=dict(Counter(f.rule for f in active)),
        findings_by_severity={s.value: by_sev.get(s.value, 0) for s in Severity},
        suppressed=len(findings) - len(active), expired=0, fail_on=Severity.HIGH,
        verdict="fail",
    )
    run = {
        "stage": "transit", "started": "2024-05-01T10:00:00Z", "finished": "2024-05-01T10:00:04Z",
        "command": f"telemetry-audit scan {PAYLOADS[1]}",
        "rulepack": {
            "digest": "sha256:" + "0" * 64,
            "files": [{"path": "rules/census.yaml", "sha256": "1" * 64}],
            "statements": {
                "census-no-user": "Census data DOES NOT contain any information that "
                                  "identifies your organization or users.",
                "census-device-id": "The device ID is a GUID that's randomly generated once "
                                    "on the device and sent to the telemetry service.",
                "error-opt-in": "End users individually opt in from the General tab.",
            },
        },
        "inputs": [{"path": PAYLOADS[3], "format": "jsonl", "sha256": "2" * 64,
                    "records": 1200, "rejected": 10}],
        "ledger": {"path": "ledger.csv", "sha256": "3" * 64},
        "identities": {"path": "directory.csv", "sha256": "4" * 64, "count": 12},
        "parameters": {"fail_on": "high", "show_evidence": True, "baseline": None},
    }
    extras = {"consent_timeline": [
        {"scope": "org", "subject": PAYLOADS[4], "setting": "DisableAutomaticSendTracing",
         "changes": [{"since": "2024-04-01T00:00:00Z", "value": "false", "events": 40},
                     {"since": "2024-04-20T00:00:00Z", "value": "true", "events": 7}]},
        {"scope": "pool", "subject": "pool-eu-1", "setting": "MeetingUxEnableTelemetry",
         "changes": [{"since": "2024-04-05T00:00:00Z", "value": "true", "events": 25}]},
    ]}
    return Report(tool={"name": "telemetry-audit", "version": "0.1.0"}, run=run,
                  summary=summary, outcomes=tuple(outcomes), findings=tuple(findings),
                  extras=extras)


@pytest.mark.slow
def test_hostile_report_in_chromium(hostile_report: Report, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("chromium is not installed (apt-get install -y chromium); this test must run")
    from playwright.sync_api import sync_playwright

    path = tmp_path / "report.html"
    path.write_bytes(html.render(hostile_report))
    dialogs: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")

            assert dialogs == []
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert errors == []
            # Only the page itself was loaded: no image, frame or script request.
            assert requests == [path.as_uri()]

            text = page.inner_text("body")
            for payload in PAYLOADS:
                assert payload in text, payload
            assert "Raw evidence shown" in text

            # The script ran (controls are revealed by it) and the filter works.
            assert page.is_visible("#filter")
            rows = page.locator("tr.finding")
            total = rows.count()
            assert total == len(hostile_report.findings)

            def visible() -> int:
                return int(page.evaluate(
                    "Array.from(document.querySelectorAll('tr.finding'))"
                    ".filter(r => r.offsetParent !== null).length"))

            assert visible() == total
            page.fill("#filter", "svg onload")
            assert 0 < visible() < total
            page.fill("#filter", "no such text anywhere")
            assert visible() == 0
            page.fill("#filter", "")
            page.select_option("#severity", "critical")
            assert visible() == sum(f.severity is Severity.CRITICAL
                                    for f in hostile_report.findings)
            page.select_option("#severity", "")
            assert visible() == total

            # Sorting keeps every row.
            page.locator("#findings table.findings th button.sort").nth(2).click()
            assert visible() == total

            assert dialogs == [] and errors == []
            assert page.evaluate("typeof window.__pwned") == "undefined"

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()


@pytest.fixture
def incomplete_report(hostile_report: Report) -> Report:
    """The hostile report with nothing that fails: its findings accepted or low, gaps
    with payloads in their messages, and one rule accepted by the baseline."""
    findings = tuple(
        dataclasses.replace(f, baseline=BaselineStatus.SUPPRESSED)
        if f.rule == "census/unhashed-user-id" else
        dataclasses.replace(f, severity=Severity.LOW)
        for f in hostile_report.findings)
    accepted = sum(f.baseline is BaselineStatus.SUPPRESSED for f in findings)
    active = [f for f in findings if f.active]
    outcomes = tuple(
        dataclasses.replace(o, status=Status.ACCEPTED, findings=0, accepted=sum(
            f.rule == o.rule for f in findings), acceptances=(ACCEPTANCE,))
        if o.rule == "census/unhashed-user-id" else o
        for o in hostile_report.outcomes)
    summary = dataclasses.replace(
        hostile_report.summary, verdict=Verdict.INCOMPLETE, gaps=GAPS,
        findings_total=len(findings), suppressed=accepted, expired=0,
        findings_by_rule=dict(Counter(f.rule for f in active)),
        findings_by_severity={s.value: sum(f.severity is s for f in active) for s in Severity})
    return dataclasses.replace(hostile_report, summary=summary, outcomes=outcomes,
                               findings=findings)


ACCEPTANCE = Acceptance(reason=f"hashed by the gateway {PAYLOADS[1]}", owner="release-eng",
                        expires="2999-12-31", findings=7)
GAPS = (
    Gap(code="rejected", message=f"10 of 1,200 records rejected ({PAYLOADS[0]}): more than "
        "--max-rejected 0 allows"),
    Gap(code="not-tested", rules=("error/no-opt-in",),
        message="1 applicable rule not tested (error/no-opt-in): no --ledger given"),
)


@pytest.mark.slow
def test_incomplete_verdict_and_accepted_rule_in_chromium(incomplete_report: Report,
                                                          tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("chromium is not installed (apt-get install -y chromium); this test must run")
    from playwright.sync_api import sync_playwright

    assert incomplete_report.incomplete
    path = tmp_path / "report.html"
    path.write_bytes(html.render(incomplete_report))
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            assert page.title().startswith("INCOMPLETE")

            # The verdict box: its words and its own class (and so its own colour).
            box = page.locator("#verdict")
            assert box.is_visible()
            assert box.get_attribute("class") == "verdict verdict-incomplete"
            assert box.locator(".verdict-value").inner_text() == "INCOMPLETE"
            fail_colour = "rgb(185, 28, 28)"
            assert box.evaluate("e => getComputedStyle(e).backgroundColor") != fail_colour

            # Beside it, why: every gap's message, the payload as text.
            gaps = page.locator("#gaps")
            assert gaps.is_visible()
            assert gaps.locator("h2").inner_text() == "Why incomplete"
            items = gaps.locator("li").all_inner_texts()
            assert len(items) == len(GAPS)
            for gap, text in zip(GAPS, items, strict=True):
                assert gap.message in text
            box_right = box.bounding_box()
            gaps_left = gaps.bounding_box()
            assert box_right and gaps_left
            assert gaps_left["x"] >= box_right["x"] + box_right["width"]  # beside, not below
            assert abs(gaps_left["y"] - box_right["y"]) < 5

            # An accepted rule shows accepted, with its reason, owner and expiry.
            row = page.locator('#rules tr[data-rule="census/unhashed-user-id"]')
            assert row.locator(".status").inner_text() == "accepted"
            reason = row.locator(".acceptance").inner_text()
            assert ACCEPTANCE.reason in reason
            assert "owner release-eng" in reason and "until 2999-12-31" in reason
            assert "7 findings" in reason
            group = page.locator(".rule-group", has=page.locator("code",
                                                                 has_text="census/unhashed"))
            assert group.locator("h3 .status").inner_text() == "accepted"
            assert ACCEPTANCE.reason in group.locator(".acceptance").inner_text()

            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert errors == []
        finally:
            browser.close()
