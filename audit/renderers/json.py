"""``report.json``: the canonical machine-readable report, described by a shipped schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import IO, Any

from audit.finding_store import finding_dicts
from audit.model import Report
from audit.renderers import as_bytes, register_stream
from audit.renderers.streaming import new_marker, write_json

SCHEMA_FILE = "report.schema.json"


def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json, shipped inside the package."""
    text = resources.files("audit.schemas").joinpath(SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@register_stream("json", "report.json")
def write(report: Report, out: IO[bytes]) -> None:
    """Indented UTF-8 JSON with keys in a fixed order, so reports diff cleanly; the
    findings are streamed one at a time."""
    marker = new_marker()
    doc = report.to_dict(findings=marker)
    write_json(doc, out, marker, finding_dicts(report.findings))


render = as_bytes(write)
