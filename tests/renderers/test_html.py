"""report.html: self-contained, escaped, complete, and bounded in size."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from report_factory import PAYLOAD, build_report, make_finding

from audit.model import Severity
from audit.renderers import html

URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "poster", "data",
             "srcset", "background", "ping"}


class _Collector(HTMLParser):
    """Every tag with its attributes, plus the text of <script> and <meta> CSP."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def parse(doc: str) -> _Collector:
    collector = _Collector()
    collector.feed(doc)
    return collector


def render(report) -> str:
    return html.render(report).decode("utf-8")


def test_no_external_url_anywhere(report):
    parsed = parse(render(report))
    assert parsed.tags
    for tag, attrs in parsed.tags:
        assert tag not in {"link", "iframe", "object", "embed", "base"}, tag
        for name, value in attrs.items():
            if name in URL_ATTRS and value is not None:
                assert value.startswith("#"), (tag, name, value)
    for _tag, attrs in parsed.tags:
        style = attrs.get("style") or ""
        assert "url(" not in style or "url(#" in style
    assert "@import" not in render(report)


def test_csp_meta_allows_only_the_hashed_inline_script(report):
    parsed = parse(render(report))
    metas = [a for t, a in parsed.tags
             if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1
    csp = metas[0]["content"] or ""
    assert "default-src 'none'" in csp
    assert "img-src data:" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
    scripts = [a for t, a in parsed.tags if t == "script"]
    assert len(scripts) == 1 and "src" not in scripts[0]
    # The hash in the CSP is the hash of the script as served.
    import base64
    import hashlib
    body = "".join(parsed.scripts)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_no_inline_event_handlers_or_javascript_urls(report_factory):
    evil = make_finding("census/identifies-user", Severity.HIGH, line=5,
                        evidence='"><svg onload=alert(1)>', field="javascript:alert(1)",
                        message="<img src=x onerror=alert(1)></textarea>",
                        source="a\"'><script>alert(1)</script>.jsonl")
    doc = render(report_factory([evil]))
    for _tag, attrs in parse(doc).tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), name
            assert "javascript:" not in (value or "").lower()
    assert "<script>alert(1)</script>" not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;/textarea&gt;" in doc
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in doc


def test_payload_in_message_is_escaped(report):
    doc = render(report)
    assert PAYLOAD not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|pipe" in doc


def test_verdict_counts_and_provenance(report):
    doc = render(report)
    assert "FAIL" in doc
    assert "records read" in doc and "rejected" in doc
    assert "sha256:" + "ab" * 32 in doc
    assert "ef" * 32 in doc  # input hash
    assert "rules/census.yaml" in doc
    assert "telemetry-audit scan dumps/sample.jsonl --ledger ledger.csv" in doc
    assert "2024-05-01T10:00:03+00:00" in doc
    assert "@media print" in doc


def test_control_matrix_maps_statements_to_rules(report):
    doc = render(report)
    matrix = doc.split('id="matrix"', 1)[1].split("</section>", 1)[0]
    assert "The hashing ensures the ID cannot be linked to a specific user." in matrix
    assert "census/unhashed-user-id" in matrix
    # a statement with no rule is shown as a gap, not dropped
    assert "no rule tests this statement" in matrix
    # a rule whose statement id is unknown is listed, not lost
    assert "Rules not mapped to a statement" in matrix and "error/watson-disabled" in matrix


def test_not_tested_reason_is_shown(report):
    doc = render(report)
    assert "not tested" in doc
    assert "no --ledger given" in doc
    assert "check raised KeyError: &#39;crash&#39;" in doc


def test_filter_controls_and_charts_present(report):
    doc = render(report)
    assert 'id="filter"' in doc and 'id="severity"' in doc
    assert doc.count('<svg class="chart"') == 2  # findings by rule + consent timeline
    assert "<?xml" not in doc


def test_show_evidence_banner(report_factory):
    assert "Raw evidence shown" not in render(report_factory())
    assert "Raw evidence shown" in render(report_factory(show_evidence=True))


def test_rows_are_capped_per_rule_with_exact_counts(report_factory):
    findings = [make_finding("census/identifies-user", Severity.HIGH, line=i + 1)
                for i in range(html.MAX_ROWS_PER_RULE + 37)]
    doc = render(report_factory(findings))
    assert len(re.findall(r'<tr class="finding ', doc)) == html.MAX_ROWS_PER_RULE
    assert "37 more not listed" in doc
    assert f"{html.MAX_ROWS_PER_RULE + 37} findings" in doc


def test_no_findings_and_no_statements(report_factory):
    report = report_factory([], outcomes=[], extras={})
    doc = render(report)
    assert "No findings." in doc
    assert "The rule pack carries no statements." not in doc  # statements still given
    bare = build_report([], outcomes=[], extras={})
    object.__setattr__(bare, "run", {})
    doc = render(bare)
    assert "The rule pack carries no statements." in doc
