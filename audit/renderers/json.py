"""``report.json``: the canonical machine-readable report, described by a shipped schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from audit.model import Report
from audit.renderers import register

SCHEMA_FILE = "report.schema.json"


def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json, shipped inside the package."""
    text = resources.files("audit.schemas").joinpath(SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@register("json", "report.json")
def render(report: Report) -> bytes:
    """Indented UTF-8 JSON with keys in a fixed order, so reports diff cleanly."""
    return (json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
