"""Streamed report.json and SARIF are byte for byte what dumping the whole document gives."""

from __future__ import annotations

import io
import json

import pytest
from support import DIRECTORY, LEDGER, SAMPLE

import audit
from audit import finding_store
from audit.renderers import RENDERERS, sarif
from audit.renderers.streaming import new_marker, write_json


@pytest.mark.parametrize("doc", [
    {"a": 1, "items": None, "z": [1, {"b": "é\n"}]},
    {"items": None},
    [{"deep": {"items": None}}],
])
@pytest.mark.parametrize("items", [[], [1], [{"x": [1, 2], "y": {"z": None}}, "two", []]])
def test_write_json_equals_dumps(doc: object, items: list[object]) -> None:
    marker = new_marker()

    def place(value: object, fill: object) -> object:
        if isinstance(value, dict):
            return {k: fill if k == "items" else place(v, fill) for k, v in value.items()}
        if isinstance(value, list):
            return [place(v, fill) for v in value]
        return value

    out = io.BytesIO()
    write_json(place(doc, marker), out, marker, iter(items))
    expected = json.dumps(place(doc, items), indent=2, ensure_ascii=False) + "\n"
    assert out.getvalue().decode("utf-8") == expected


def test_streamed_reports_equal_whole_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finding_store, "SPILL_AFTER", 4)
    monkeypatch.setattr(finding_store, "BATCH_ROWS", 3)
    report = audit.scan(inputs=str(SAMPLE), ledger=str(LEDGER), identities=str(DIRECTORY))
    assert report.findings.spilled  # type: ignore[attr-defined]
    whole = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    assert RENDERERS["json"].render(report).decode("utf-8") == whole
    log = json.dumps(sarif.build_log(report), indent=2, ensure_ascii=False) + "\n"
    assert RENDERERS["sarif"].render(report).decode("utf-8") == log


def test_a_render_that_fails_leaves_the_previous_report(tmp_path, monkeypatch) -> None:
    """Reports are written beside and moved into place: no cut-off file, no loss."""
    import dataclasses

    import pytest
    from support import SAMPLE

    import audit
    from audit.renderers import RENDERERS, write_reports

    report = audit.scan(inputs=str(SAMPLE))
    write_reports(report, tmp_path, ["json"])
    before = (tmp_path / "report.json").read_bytes()

    def broken(report: object, out: object) -> None:
        out.write(b'{"half": ')  # type: ignore[attr-defined]
        raise RuntimeError("renderer failed")

    monkeypatch.setitem(RENDERERS, "json", dataclasses.replace(RENDERERS["json"], write=broken))
    with pytest.raises(RuntimeError):
        write_reports(report, tmp_path, ["json"])
    assert (tmp_path / "report.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
