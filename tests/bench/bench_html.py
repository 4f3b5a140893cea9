"""Render a Report with a million findings to HTML and print time and size.

Not a test: run ``python tests/bench/bench_html.py [N]``. The per-rule cap in
the HTML renderer is what keeps the page small; this shows it holds at scale. The
report also carries a consent timeline as large as the consent check gives (100
subjects of 50 changes for each of four rules) and events on 10,000 days from the
year 1 to 9999, so both charts are drawn at their bounds.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from audit.model import Finding, Report, RuleOutcome, Severity, Status, Summary
from audit.renderers import html

RULES = [
    ("census/unhashed-user-id", Severity.CRITICAL),
    ("census/identifies-user", Severity.HIGH),
    ("usage/identifies-user", Severity.HIGH),
    ("usage/collected-while-disabled", Severity.HIGH),
    ("error/no-opt-in", Severity.HIGH),
    ("error/secret-in-error-data", Severity.CRITICAL),
    ("census/undeclared-field", Severity.LOW),
    ("input/malformed-record", Severity.MEDIUM),
]


def build(n: int) -> Report:
    findings = tuple(
        Finding(rule=RULES[i % len(RULES)][0], category=RULES[i % len(RULES)][0].split("/")[0],
                severity=RULES[i % len(RULES)][1], source="dumps/big.jsonl", line=i + 1,
                field="UserID", message="user-identifying value", evidence="am•••om#1a2b3c",
                fingerprint=f"{i:032x}")
        for i in range(n)
    )
    by_rule = Counter(f.rule for f in findings)
    by_sev = Counter(f.severity.value for f in findings)
    outcomes = tuple(RuleOutcome(rule=r, category=r.split("/")[0], severity=s,
                                 status=Status.FAILED, findings=by_rule[r], description=r)
                     for r, s in RULES)
    summary = Summary(records_read=n, records_audited=n, records_rejected=0, findings_total=n,
                      findings_by_rule=dict(by_rule),
                      findings_by_severity={s.value: by_sev.get(s.value, 0) for s in Severity},
                      suppressed=0, expired=0, fail_on=Severity.HIGH, verdict="fail")
    run = {"stage": "transit", "command": "telemetry-audit scan dumps/big.jsonl",
           "rulepack": {"digest": "sha256:" + "0" * 64, "files": [], "statements": {}},
           "inputs": [{"path": "dumps/big.jsonl", "format": "jsonl", "sha256": "0" * 64,
                       "records": n, "rejected": 0}],
           "parameters": {"show_evidence": False}}
    return Report(tool={"name": "telemetry-audit", "version": "0.1.0"}, run=run,
                  summary=summary, outcomes=outcomes, findings=findings, extras=extras())


def extras() -> dict[str, Any]:
    """A consent timeline at the consent check's bound, and events over 10,000 days."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    timeline = []
    for rule in ("usage/collected-while-disabled", "error/collected-while-disabled",
                 "error/no-opt-in", "usage/meeting-telemetry-disabled"):
        for subject in range(100):
            changes: list[dict[str, Any]] = [{"since": None, "value": False, "allowed": True,
                                              "ledger_line": None, "events": 1,
                                              "violations": 0}]
            for i in range(49):
                blocked = i % 2 == 0
                since = start + timedelta(hours=7 * i + subject)
                changes.append({"since": since.isoformat().replace("+00:00", "Z"),
                                "value": blocked, "allowed": not blocked,
                                "ledger_line": 2 + i, "events": 3,
                                "violations": 3 if blocked else 0})
            timeline.append({"rule": rule, "scope": "org", "setting": "S",
                             "subject": f"tenant{subject}.example.com", "changes": changes})
    days = [{"time": f"{1 + i:04d}-03-01", "events": 10 + i % 7, "findings": i % 3}
            for i in range(0, 9999)]
    return {"consent_timeline": timeline, "events_over_time": days}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    t0 = time.perf_counter()
    report = build(n)
    t1 = time.perf_counter()
    data = html.render(report)
    t2 = time.perf_counter()
    out = Path(__file__).parent / "out" / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"findings: {n:,}")
    print(f"build report: {t1 - t0:.2f} s")
    print(f"render html:  {t2 - t1:.2f} s")
    print(f"html size:    {len(data):,} bytes ({len(data) / 1024:.0f} KiB)")
    rows = data.count(b'<tr class="finding ')
    print(f"listed rows:  {rows} (cap {html.MAX_ROWS_PER_RULE} per rule)")


if __name__ == "__main__":
    main()
