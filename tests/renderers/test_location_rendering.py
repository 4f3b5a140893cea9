"""Where a report shows a finding's line, a HAR finding also shows its entry and line."""

from __future__ import annotations

import json
import re

import pytest
from support import compress, har_post, json_stream, make_event, write_har
from test_sarif import validate

import audit
from audit.diff import diff_reports, render_diff_text
from audit.model import Report
from audit.renderers import html, junit, markdown, sarif

LEAK = "amos.marble@contoso.com"
PLACE = "entry 3, line 2"


@pytest.fixture(scope="module")
def har_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """A capture whose third entry's second event carries an e-mail address, and whose
    fourth entry is a binary body."""
    body = json_stream([make_event("census"), make_event("census", DeviceModel=LEAK)])
    path = write_har(tmp_path_factory.mktemp("har") / "capture.har", [
        har_post(json_stream([make_event("census")])),
        {"request": {"method": "GET", "url": "https://example.com/"}},
        har_post(compress(body, "gzip"), coding="gzip"),
        har_post(b"\x2b\x01\x09\x00", mime="application/bond-compact-binary"),
    ])
    return audit.scan(inputs=str(path))


def test_the_report_has_what_the_renderers_show(har_report: Report) -> None:
    leak = next(f for f in har_report.findings if f.rule == "census/identifies-user")
    assert (leak.line, leak.location) == (3, PLACE)
    bad = next(f for f in har_report.findings if f.rule == "input/malformed-record")
    assert (bad.line, bad.location) == (4, "entry 4, line 1")


def test_html_shows_the_location_under_the_line(har_report: Report) -> None:
    page = html.render(har_report).decode("utf-8")
    assert re.search(rf'<td class="n">3<div class="muted small loc">{PLACE}</div></td>', page)
    assert '<td class="n">4<div class="muted small loc">entry 4, line 1</div></td>' in page
    # the input says what its entries gave
    assert "3 requests with records; rejected records in entry 4" in page


def test_markdown_and_junit_show_it_beside_the_line(har_report: Report) -> None:
    assert f"capture.har:3 ({PLACE})" in markdown.render(har_report).decode("utf-8")
    assert f"capture.har:3 ({PLACE}) DeviceModel:" in junit.render(har_report).decode("utf-8")


def test_sarif_says_it_in_the_message_and_a_property(har_report: Report) -> None:
    log = json.loads(sarif.render(har_report))
    validate(log)
    [result] = [r for r in log["runs"][0]["results"] if r["ruleId"] == "census/identifies-user"]
    assert result["message"]["text"].endswith(f"(field DeviceModel) at {PLACE}")
    assert result["properties"]["location"] == PLACE
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}


def test_a_diff_shows_it(har_report: Report) -> None:
    new = har_report.to_dict()
    old = {**new, "findings": []}
    text = render_diff_text(diff_reports(old, new))
    assert f"capture.har:3 ({PLACE})" in text
