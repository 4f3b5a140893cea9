"""Charts: inline SVG, no prolog, data only as escaped text, active markup refused."""

from __future__ import annotations

import pytest

from audit.renderers import charts


def test_findings_by_rule_svg_is_inline_and_escaped():
    svg = charts.findings_by_rule({"usage/<b>$x$</b>&": {"critical": 2, "low": 1}})
    assert svg is not None and svg.startswith("<svg ")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert "usage/&lt;b&gt;$x$&lt;/b&gt;&amp;" in svg  # not mathtext, not markup
    assert charts.findings_by_rule({}) is None


def test_consent_timeline_and_over_time():
    lane = {"scope": "org", "subject": '"><svg onload=alert(1)>', "setting": "S",
            "changes": [{"since": "2024-01-01T00:00:00Z", "value": "false", "events": 3},
                        {"since": "2024-01-05T00:00:00Z", "value": "true", "events": 1}]}
    svg = charts.consent_timeline([lane])
    assert svg is not None and "&lt;svg onload=alert(1)&gt;" in svg
    assert charts.consent_timeline([{"changes": []}]) is None
    series = [{"time": "2024-01-01T00:00:00Z", "events": 5, "findings": 1},
              {"time": "2024-01-02T00:00:00Z", "events": 7, "findings": 3}]
    assert charts.over_time(series) is not None
    assert charts.over_time(series[:1]) is None


@pytest.mark.parametrize("bad", [
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><g onload="alert(1)"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
    '<use xlink:href="http://example.com/x.svg#a"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>',
])
def test_active_markup_is_refused(bad):
    with pytest.raises(ValueError):
        charts._check_inert(bad)


def _change(since, value, allowed=None, events=1, violations=0):
    change = {"since": since, "value": value, "ledger_line": None if since is None else 2,
              "events": events, "violations": violations}
    if allowed is not None:
        change["allowed"] = allowed
    return change


def test_consent_colours_mean_allowed_or_blocked_not_true_or_false():
    # DisableAutomaticSendTracing=true blocks; MeetingUxEnableTelemetry=true allows
    tracing = {"scope": "org", "subject": "fabrikam.com", "setting": "DisableAutomaticSendTracing",
               "changes": [_change("2026-04-01T00:00:00Z", True, allowed=False, violations=1)]}
    meetings = {"scope": "org", "subject": "fabrikam.com", "setting": "MeetingUxEnableTelemetry",
                "changes": [_change("2026-04-01T00:00:00Z", True, allowed=True)]}
    blocked = charts.consent_timeline([tracing])
    allowed = charts.consent_timeline([meetings])
    assert blocked is not None and allowed is not None
    bars = blocked.split("<g id=\"consent-legend", 1)[0]
    assert charts.BLOCKED_COLOR in bars and charts.ALLOWED_COLOR not in bars
    bars = allowed.split("<g id=\"consent-legend", 1)[0]
    assert charts.ALLOWED_COLOR in bars and charts.BLOCKED_COLOR not in bars
    for svg in (blocked, allowed):
        assert "sending allowed" in svg and "sending blocked" in svg
        assert "setting true" not in svg and "false/default" not in svg


def test_consent_chart_shows_user_and_pool_subjects_with_only_a_default():
    # the consent check gives a subject with no ledger record one change: its default
    entries = [
        {"scope": "user", "subject": "•••#b94f94", "setting": "ErrorReportingOptIn",
         "changes": [_change(None, False, allowed=False, violations=1)]},
        {"scope": "pool", "subject": "meet.northwindtraders.com",
         "setting": "MeetingUxEnableTelemetry",
         "changes": [_change(None, False, allowed=False, violations=1)]},
        {"scope": "org", "subject": "fabrikam.com", "setting": "DisableAutomaticSendTracing",
         "changes": [_change(None, False, allowed=True, events=0),
                     _change("2026-04-01T00:00:00Z", True, allowed=False, violations=1)]},
    ]
    svg = charts.consent_timeline(entries)
    assert svg is not None
    for label in ("user: •••#b94f94", "ErrorReportingOptIn", "pool: meet.northwindtraders.com",
                  "MeetingUxEnableTelemetry", "org: fabrikam.com"):
        assert label in svg, label
    assert "default (no ledger record yet)" in svg
    # defaults only: no date axis, still one lane per subject
    only = charts.consent_timeline(entries[:2])
    assert only is not None and "user: •••#b94f94" in only and "pool: meet." in only
    assert "the default held throughout" in only


def test_allowed_flags_from_the_change_or_from_its_violations():
    assert charts.allowed_flags([_change(None, False, allowed=True),
                                 _change("2026-01-01T00:00:00Z", True, allowed=False)]) \
        == [True, False]
    # without ``allowed``: the value that had violations is the blocking one
    assert charts.allowed_flags([_change(None, "false", events=3),
                                 _change("2026-01-01T00:00:00Z", "true", violations=2)]) \
        == [True, False]
    assert charts.allowed_flags([_change(None, True, violations=1),
                                 _change("2026-01-01T00:00:00Z", False)]) == [False, True]
    # nothing tells: unknown, drawn in a neutral colour
    assert charts.allowed_flags([_change(None, "false"), _change(None, "maybe")]) \
        == [None, None]
    svg = charts.consent_timeline([{"scope": "org", "subject": "a", "setting": "S",
                                    "changes": [_change("2026-01-01T00:00:00Z", "true")]}])
    assert svg is not None and charts.UNKNOWN_COLOR in svg and "not known" in svg
