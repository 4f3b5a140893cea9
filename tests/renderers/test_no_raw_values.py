"""With masked evidence, the raw value never reaches any output format."""

from __future__ import annotations

import pytest
from report_factory import MASKED_VALUE, RAW_VALUE, make_finding

from audit.fingerprint import mask, resolve_key
from audit.model import Severity
from audit.renderers import html, junit, markdown, sarif

RENDERERS = {"html": html.render, "sarif": sarif.render, "junit": junit.render,
             "md": markdown.render}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_raw_value_absent(name, report_factory):
    masked = mask(RAW_VALUE, resolve_key())
    findings = [make_finding("census/unhashed-user-id", Severity.CRITICAL, evidence=masked),
                make_finding("census/identifies-user", Severity.HIGH, line=2)]
    out = RENDERERS[name](report_factory(findings)).decode("utf-8")
    assert masked in out or MASKED_VALUE in out or name == "junit"
    for probe in (RAW_VALUE, RAW_VALUE.split("@")[0], "contoso.com"):
        assert probe not in out, probe
