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
