"""Hypothesis: valid events raise no schema finding; one injected defect raises exactly one,
at the right line and field."""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import audit
from audit.rulepack import Category, FieldSpec, load

PACK = load()
SCHEMA_RULES = {"undeclared-field", "schema-violation"}
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .-_", min_size=1, max_size=24)
LANGUAGES = st.sampled_from(["EN-US", "en-GB", "de", "zh-Hans-CN", "pt-BR"])
TIMES = st.datetimes(
    min_value=__import__("datetime").datetime(2020, 1, 1),
    max_value=__import__("datetime").datetime(2030, 1, 1),
).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))


def value_of(spec: FieldSpec) -> st.SearchStrategy[Any]:
    if spec.enum is not None:
        return st.sampled_from(spec.enum)
    if spec.format == "date-time":
        return TIMES
    if spec.pattern is not None:
        return LANGUAGES
    if spec.type == "integer":
        return st.integers(min_value=int(spec.minimum or 0), max_value=10**6)
    if spec.type == "number":
        return st.one_of(st.integers(0, 10**5), st.floats(0, 1e5, allow_nan=False))
    if spec.type == "boolean":
        return st.booleans()
    return TEXT


@st.composite
def events(draw: st.DrawFn, category: Category) -> dict[str, Any]:
    event = {}
    for spec in category.fields.values():
        keep = spec.required or spec.required_when is not None or draw(st.booleans())
        if keep:
            event[spec.name] = draw(value_of(spec))
    return event


def scan_events(batch: list[dict[str, Any]]) -> set[tuple[str, int, str | None]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in batch), "utf-8")
        report = audit.scan(inputs=str(path))
    return {
        (f.rule, f.line, f.field)
        for f in report.findings
        if f.rule.split("/")[1] in SCHEMA_RULES or f.rule.startswith("input/")
    }


CATEGORIES = st.sampled_from(sorted(PACK.categories))
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(st.data())
def test_valid_events_raise_no_schema_finding(data: st.DataObject) -> None:
    name = data.draw(CATEGORIES)
    batch = data.draw(st.lists(events(PACK.categories[name]), min_size=1, max_size=20))
    assert scan_events(batch) == set()


MISTYPED = {"string": 12345, "integer": "twelve", "number": "thirty", "boolean": "yes"}


@SETTINGS
@given(st.data())
def test_one_injected_defect_is_found_exactly(data: st.DataObject) -> None:
    name = data.draw(CATEGORIES)
    category = PACK.categories[name]
    batch = data.draw(st.lists(events(category), min_size=1, max_size=20))
    index = data.draw(st.integers(0, len(batch) - 1))
    if data.draw(st.booleans()):
        field = "x" + data.draw(st.text(string.ascii_letters, min_size=1, max_size=10))
        batch[index][field] = data.draw(st.one_of(TEXT, st.integers(), st.booleans()))
        expected = (f"{name}/undeclared-field", index + 1, field)
    else:
        spec = data.draw(
            st.sampled_from([s for s in category.fields.values() if s.name != "category"])
        )
        batch[index][spec.name] = MISTYPED[spec.type]
        expected = (f"{name}/schema-violation", index + 1, spec.name)
    assert scan_events(batch) == {expected}
