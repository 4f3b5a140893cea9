"""Report diffs: new, fixed and unchanged findings, matched as a multiset."""

from __future__ import annotations

from audit.diff import DiffResult, diff_reports, render_diff_text


def f(rule: str, fp: str, line: int = 1, severity: str = "high") -> dict:
    return {"rule": rule, "fingerprint": fp, "line": line, "source": "d.jsonl",
            "severity": severity, "field": "UserID", "evidence": "am•••om#1a2b3c"}


def test_new_fixed_unchanged():
    old = {"findings": [f("r/a", "1"), f("r/b", "2")]}
    new = {"findings": [f("r/a", "1", line=9), f("r/c", "3")]}
    result = diff_reports(old, new)
    assert isinstance(result, DiffResult)
    assert [x["rule"] for x in result.new] == ["r/c"]
    assert [x["rule"] for x in result.fixed] == ["r/b"]
    assert [x["line"] for x in result.unchanged] == [9]  # matched despite moving
    assert result.changed


def test_multiset_matching():
    old = {"findings": [f("r/a", "1"), f("r/a", "1", line=2), f("r/a", "1", line=3)]}
    new = {"findings": [f("r/a", "1", line=5)]}
    result = diff_reports(old, new)
    assert len(result.unchanged) == 1 and len(result.fixed) == 2 and not result.new
    grown = diff_reports(new, old)
    assert len(grown.new) == 2 and not grown.fixed


def test_same_fingerprint_other_rule_is_different():
    result = diff_reports({"findings": [f("r/a", "1")]}, {"findings": [f("r/b", "1")]})
    assert len(result.new) == 1 and len(result.fixed) == 1


def test_identical_and_empty_reports():
    report = {"findings": [f("r/a", "1")]}
    assert not diff_reports(report, report).changed
    assert not diff_reports({}, {"findings": []}).changed


def test_render_text():
    result = diff_reports({"findings": [f("r/b", "2", severity="low")]},
                          {"findings": [f("r/a", "1"), f("r/c", "3", severity="critical")]})
    text = render_diff_text(result)
    assert "New findings (2)" in text and "Fixed findings (1)" in text
    assert text.index("r/c") < text.index("r/a")  # most severe first
    assert "d.jsonl:1" in text
    assert "unchanged" in text
