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
    # the source wraps after "/": its parts escaped, only our own <wbr> between them
    assert "a&#34;&#39;&gt;&lt;script&gt;alert(1)&lt;/<wbr>script&gt;.jsonl" in doc
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
    assert "rules/<wbr>census.yaml" in doc
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


# -- verdict, gaps and acceptances -----------------------------------------------------


def _section(doc: str, ident: str) -> str:
    """One top-level section of the page (the findings' rule groups are nested ones)."""
    rest = doc.split(f'<section id="{ident}"', 1)[1]
    return rest.split('\n<section id="', 1)[0].split("</main>", 1)[0]


def _verdict_area(doc: str) -> str:
    return doc.split('class="verdict-row', 1)[1].split("</header>", 1)[0]


def test_incomplete_verdict_box_lists_why_beside_it(report_factory):
    low = [make_finding("usage/undeclared-field", Severity.LOW, line=9)]
    report = report_factory(low)
    assert report.incomplete
    doc = render(report)
    assert "<title>INCOMPLETE · Telemetry privacy audit</title>" in doc
    area = _verdict_area(doc)
    assert 'class="verdict verdict-incomplete"' in area
    assert ">INCOMPLETE<" in area
    assert "Why incomplete" in area and "The verdict does not vouch for:" in area
    for gap in report.summary.gaps:
        assert gap.message.replace("'", "&#39;") in area
    assert "no active finding at or above high, but not everything was audited" in area
    assert ".verdict-incomplete {" in doc  # a colour of its own


def test_fail_still_lists_what_was_not_audited(report):
    assert report.failed and report.summary.gaps
    area = _verdict_area(render(report))
    assert 'class="verdict verdict-fail"' in area and ">FAIL<" in area
    assert "Not audited" in area and "Why incomplete" not in area
    assert "1 of 20 records rejected" in area and "no --ledger given" in area
    assert "3 active findings at or above high" in area


def test_pass_has_no_gaps_box(report_factory):
    doc = render(report_factory([], gaps=()))
    assert 'class="verdict verdict-pass"' in doc and "<title>PASS" in doc
    assert 'id="gaps"' not in doc and "Not audited" not in doc


def test_gap_messages_are_escaped(report_factory):
    from audit.model import Gap
    doc = render(report_factory([], gaps=(Gap(code="rejected", message=PAYLOAD),)))
    assert PAYLOAD not in doc
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|pipe" in _verdict_area(doc)


ACCEPTED_RULE = "census/device-id-not-random"
REASON_HTML = "lab devices &lt;b&gt;reuse&lt;/b&gt; a nil id"


def _outcome_row(doc: str, rule: str) -> str:
    return _section(doc, "rules").split(f'data-rule="{rule}"', 1)[1].split("</tr>", 1)[0]


def test_accepted_rule_shows_accepted_with_reason_owner_and_expiry(report):
    doc = render(report)
    row = _outcome_row(doc, ACCEPTED_RULE)
    assert re.search(r'class="status status-accepted"[^>]*>accepted<', row)
    assert REASON_HTML in row and "lab devices <b>" not in doc
    assert "owner release-eng · until 2999-12-31 · 1 finding" in row
    assert "+1 accepted" in row
    matrix = _section(doc, "matrix")
    rule_in_matrix = matrix.split(ACCEPTED_RULE, 1)[1].split('<div class="mrule">', 1)[0]
    assert REASON_HTML in rule_in_matrix and "until 2999-12-31" in rule_in_matrix
    group = _section(doc, "findings").split(f"<code>{ACCEPTED_RULE}</code>", 1)[1]
    group = group.split("<table", 1)[0]
    assert "status-accepted" in group and REASON_HTML in group and "1 finding" in group


def test_expired_acceptance_is_marked(report_factory):
    from dataclasses import replace

    from report_factory import default_findings, default_outcomes

    from audit.model import Acceptance, Status
    findings = default_findings()
    outcomes = [replace(o, acceptances=(Acceptance(reason="old waiver", owner="qa",
                                                   expires="2020-01-31", findings=1,
                                                   expired=True),))
                if o.rule == "usage/undeclared-field" else o
                for o in default_outcomes(findings)]
    doc = render(report_factory(findings, outcomes=outcomes))
    row = _outcome_row(doc, "usage/undeclared-field")
    assert "acceptance-expired" in row and "acceptance expired:" in row
    assert "old waiver" in row and "expired 2020-01-31" in row
    assert next(o for o in outcomes if o.rule == "usage/undeclared-field").status \
        is Status.FAILED


def test_findings_baseline_column_says_accepted_not_suppressed(report):
    findings = _section(render(report), "findings")
    assert 'class="bl bl-suppressed">accepted<' in findings
    assert ">suppressed<" not in findings.split("</select>", 2)[-1]


# -- control matrix ----------------------------------------------------------------------


def _outcome(status, rule="r/x"):
    from audit.model import RuleOutcome
    return RuleOutcome(rule=rule, category="r", severity=Severity.HIGH, status=status,
                       findings=0)


def test_statement_states_are_defined_precisely():
    from audit.model import Status as S
    state = html._statement_state
    o = _outcome
    assert state([]) == "gap"
    assert state([o(S.NOT_APPLICABLE), o(S.EXCLUDED)]) == "not_applicable"
    assert state([o(S.PASSED), o(S.ERROR)]) == "failed"
    assert state([o(S.FAILED), o(S.NOT_TESTED)]) == "failed"
    assert state([o(S.NOT_TESTED), o(S.NOT_TESTED)]) == "not_tested"
    assert state([o(S.NOT_TESTED), o(S.NOT_APPLICABLE)]) == "not_tested"
    assert state([o(S.PASSED), o(S.NOT_TESTED)]) == "partial"
    assert state([o(S.ACCEPTED), o(S.NOT_TESTED)]) == "partial"
    assert state([o(S.ACCEPTED), o(S.PASSED)]) == "accepted"
    assert state([o(S.PASSED), o(S.PASSED)]) == "passed"
    # not applicable and excluded rules neither test a statement nor leave it partial
    assert state([o(S.PASSED), o(S.NOT_APPLICABLE), o(S.EXCLUDED)]) == "passed"
    assert state([o(S.ACCEPTED), o(S.EXCLUDED)]) == "accepted"


def test_matrix_rows_and_legend(report):
    rows, _ = html._control_matrix(report)
    states = {r["id"]: r["state"] for r in rows}
    assert states == {"census-no-user": "failed", "census-userid-hashed": "failed",
                      "usage-disable": "failed", "error-opt-in": "not_tested",
                      "error-watson": "gap"}
    matrix = _section(render(report), "matrix")
    for _key, label, meaning in html.MATRIX_STATES:
        assert f">{label}</span></dt><dd>{meaning}</dd>" in matrix
    # shown as what they are, with their reason, not as not tested
    assert re.search(r'status-not_applicable"[^>]*>not applicable</span>', matrix)
    assert "applies at stage stored only (this scan: transit)" in matrix
    assert re.search(r'status-excluded"[^>]*>excluded</span>', matrix)
    assert "excluded by --skip-rule usage/meeting-*" in matrix


# -- rule outcomes -----------------------------------------------------------------------


def test_not_tested_not_applicable_and_excluded_are_told_apart_once(report):
    rules = _section(render(report), "rules")
    block = rules.split('<dl class="out-of-scope">', 1)[1].split("</dl>", 1)[0]
    assert "not tested</span> 1" in block and "Listed at the top under “Not audited”" in block
    assert "not applicable</span> 1" in block and "excluded</span> 1" in block
    assert "--skip-rule" in block
    # each reason once in the section: in its rule's row
    assert rules.count("no --ledger given") == 1
    assert rules.count("applies at stage stored only") == 1
    assert rules.count("excluded by --skip-rule usage/meeting-*") == 1
    assert 'class="not-tested"' not in rules


# -- cosmetics ---------------------------------------------------------------------------


def test_consent_table_says_default_and_allowed_or_blocked(report_factory):
    timeline = [{"rule": "usage/meeting-telemetry-disabled", "scope": "pool",
                 "subject": "meet.example.com", "setting": "MeetingUxEnableTelemetry",
                 "changes": [{"since": None, "value": False, "allowed": False,
                              "ledger_line": None, "events": 2, "violations": 2},
                             {"since": "2026-02-01T00:00:00Z", "value": True, "allowed": True,
                              "ledger_line": 4, "events": 5, "violations": 0}]}]
    doc = render(report_factory(extras={"consent_timeline": timeline}))
    consent = _section(doc, "consent")
    assert "None" not in consent
    assert "default → <strong>false</strong>: <span class=\"send send-blocked\">blocked" \
        in consent
    assert "(2 events, 2 sent while blocked)" in consent
    assert "2026-02-01T00:00:00Z → <strong>true</strong>: " \
           "<span class=\"send send-allowed\">allowed" in consent


def test_parameters_in_words():
    params = {"fail_on": "high", "formats": ["json", "html"], "baseline": None,
              "show_evidence": False, "allow_incomplete": True, "skip_rules": [],
              "max_rejected": "0", "chunk_rows": 50000, "jobs": ("auto",)}
    assert html._parameters(params) == [
        ("fail on", "high"), ("formats", "json, html"), ("baseline", "none"),
        ("show evidence", "no"), ("allow incomplete", "yes"), ("skip rules", "none"),
        ("max rejected", "0"), ("chunk rows", "50,000"), ("jobs", "auto")]


def test_provenance_parameters_are_not_python_reprs(report):
    prov = _section(render(report), "provenance")
    assert "<dt>formats</dt><dd>html, sarif, junit, md</dd>" in prov
    assert "<dt>show evidence</dt><dd>no</dd>" in prov
    assert "<dt>baseline</dt><dd>none</dd>" in prov
    assert "[&#39;" not in prov and "None" not in prov and "False" not in prov


def test_explanation_shown_only_when_it_adds_to_the_message():
    from dataclasses import replace

    def shown(message, explanation):
        finding = make_finding("census/x", Severity.HIGH, message=message)
        return html.explanation_shown(replace(finding, explanation=explanation))

    assert shown("census DeviceID is not a randomly generated GUID: nil GUID",
                 "nil GUID") is None
    assert shown("census event carries TenantName, a field the census schema does not "
                 "declare", "field is not declared") is None
    assert shown("user-identifying value", "EMAIL via pattern") == "EMAIL via pattern"
    assert shown("a GUID", "GUI") == "GUI"  # a part of a word is not the word
    assert shown("nil GUID", None) is None and shown("nil GUID", "  ") is None


def test_finding_row_shows_each_explanation_once(report_factory):
    said = make_finding("census/identifies-user", Severity.HIGH, line=2,
                        message="census field UserID identifies a user: EMAIL via pattern")
    doc = render(report_factory([said]))
    findings = _section(doc, "findings")
    assert findings.count("EMAIL via pattern") == 1


def test_wrap_path_escapes_every_part():
    out = html.wrap_path('C:\\dumps\\<b>/"x".jsonl')
    assert str(out) == "C:\\<wbr>dumps\\<wbr>&lt;b&gt;/<wbr>&#34;x&#34;.jsonl"
    assert str(html.wrap_path("plain.jsonl")) == "plain.jsonl"
    assert str(html.wrap_path(None)) == ""


def test_long_paths_wrap_in_findings_provenance_and_inputs(report_factory):
    long = "captures/2024/05/01/region-eu/tenant-fabrikam/client-desktop/" + "x" * 40 + ".jsonl"
    doc = render(report_factory([make_finding("census/identifies-user", Severity.HIGH,
                                              source=long)]))
    wrapped = str(html.wrap_path(long))
    assert wrapped in _section(doc, "findings")
    assert "dumps/<wbr>sample.jsonl" in _section(doc, "provenance")  # inputs table
    assert "rules/<wbr>census.yaml" in _section(doc, "provenance")


def test_print_keeps_headings_with_their_content(report):
    doc = render(report)
    printed = doc.split("@media print", 1)[1]
    assert "break-after: avoid" in printed and "break-inside: avoid" in printed
