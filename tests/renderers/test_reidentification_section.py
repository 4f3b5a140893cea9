"""The HTML section "Re-identification risk": what the three analyses measured, from a
real scan, and nothing of the dump unescaped."""

from __future__ import annotations

import re

from report_factory import PAYLOAD, build_report
from support import FIXTURES

import audit
from audit.renderers import html

CASES = FIXTURES / "cases" / "census"
STAGES = FIXTURES / "dumps" / "stages"


def _section(page: str) -> str:
    start = page.index('<section id="reidentification">')
    return page[start:page.index("</section>", start)]


def _text(section: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", section,
                                                   flags=re.S)).split())


def test_the_section_shows_linkage_k_and_the_stage_comparison() -> None:
    report = audit.scan(inputs=(str(STAGES / "transit.jsonl"),
                                str(CASES / "re-identification-risk" / "events.jsonl"),
                                str(CASES / "linkable-to-user" / "events.jsonl")),
                        stored=(str(STAGES / "stored.jsonl"),), jobs=1)
    section = _section(html.render(report).decode("utf-8"))
    text = _text(section)
    assert "2 of 69 census devices (2.9%) and 4 of 183 census records are linkable" in text
    assert "DeviceID 2 UserID 2" in text
    assert "Linked through: error events (2), usage events (2)" in text
    assert "20 of 25 classes are shared by fewer than 5 devices; 17.4% of 69 devices (12)" \
        in text
    assert 'aria-label="Census classes per k"' in section  # the histogram chart
    assert "k Classes Devices in them 1 14 14 2 4 8 3 2 6 5–9 1 5 10–19 4 56" in text
    assert "census/not-rehashed-at-rest : 2 of 24 stored UserID values equal a transit" in text
    assert "error/user-id-linkable-at-rest : 2 of 8 stored UserID values are an unsalted" \
        in text
    assert "Not compared" not in text


def test_without_a_stored_dump_the_section_says_what_to_give() -> None:
    report = audit.scan(inputs=str(CASES / "re-identification-risk" / "events.jsonl"), jobs=1)
    text = _text(_section(html.render(report).decode("utf-8")))
    assert "Not compared ( census/not-rehashed-at-rest , error/user-id-linkable-at-rest )" \
        in text and "--stored DUMP" in text


def test_summaries_are_escaped() -> None:
    """Summaries carry rule-file names only, but the template escapes whatever is there."""
    extras = {"reidentification": [
        {"rule": "census/x", "analysis": "k-anonymity", "k": 5, "assessed": True,
         "quasi_identifiers": [PAYLOAD], "classes": 1, "classes_below_k": 1, "devices": 1,
         "devices_below_k": 1, "histogram": [{"k_min": 1, "k_max": 1, "classes": 1,
                                              "devices_in_classes": 1, "below_k": True}]},
        {"rule": "census/y", "analysis": "linkage", "records": 1, "records_linked": 1,
         "devices": 1, "devices_linked": 1, "by_field": {PAYLOAD: 1},
         "by_category": {PAYLOAD: 1}, "by_identity": {PAYLOAD: 1}}]}
    page = html.render(build_report(extras=extras)).decode("utf-8")
    section = _section(page)
    assert "<script>alert(1)" not in section and "&lt;script&gt;alert(1)" in section
