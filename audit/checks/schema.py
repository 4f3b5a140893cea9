"""Schema check kinds: undeclared fields and declared fields that break their spec.

``declared-fields`` flags a field the category does not declare, for example a
census event carrying ``"Email": "amos@contoso.com"``: data the published
practices never mention. ``field-schema`` flags a missing required field or a
declared field of the wrong type, format or value, for example
``"SignInAttempts": "three"`` or ``"time": "yesterday"``.

Both work column by column over the chunk, never record by record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from audit.checks import check_kind, hits, no_hits
from audit.detectors.prefixed_ids import ID_PREFIX
from audit.lazy import lazy
from audit.selectors import select_rows

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.context import ScanContext
    from audit.rulepack import FieldSpec, Rule
else:
    np = lazy("numpy")
    pd = lazy("pandas")

GUID_RE = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
#: ISO 8601 date-time with a time zone (Z or offset); fractions of a second allowed.
DATE_TIME_RE = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})"

JSON_TYPE_NAMES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    list: "array",
    dict: "object",
}


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, as a reader produced it."""
    for py_type, name in JSON_TYPE_NAMES.items():
        if isinstance(value, py_type):
            return name
    return type(value).__name__


@check_kind("declared-fields")
def declared_fields(rule: Rule, events: pd.DataFrame, ctx: ScanContext) -> pd.DataFrame:
    """One hit per record and field that the category's schema does not declare.

    Built from arrays in one go, never a frame per column: a record may carry as many
    undeclared keys as the limits allow (100,000 or more).
    """
    declared = ctx.rulepack.categories[rule.category].fields
    undeclared = np.flatnonzero(~events.columns.isin(list(declared))
                                & ~events.columns.str.startswith(ID_PREFIX))
    if not len(undeclared):
        return no_hits()
    block = events.iloc[:, undeclared]
    # (column, row) of each present value, column by column.
    columns, rows = np.nonzero(block.notna().to_numpy().T)
    if not len(rows):
        return no_hits()
    return hits(
        block.index[rows],
        field=block.columns[columns].to_numpy(dtype=object),
        value=block.to_numpy(dtype=object)[rows, columns],
        explanation="field is not declared",
    )


@check_kind("field-schema")
def field_schema(rule: Rule, events: pd.DataFrame, ctx: ScanContext) -> pd.DataFrame:
    """One hit per record and declared field that is missing or breaks its spec."""
    parts = []
    for spec in ctx.rulepack.categories[rule.category].fields.values():
        column = events[spec.name] if spec.name in events.columns else None
        missing = column.isna().to_numpy() if column is not None else \
            np.ones(len(events), dtype=bool)
        if spec.required or spec.required_when:
            absent = missing if spec.required else \
                missing & select_rows(events, spec.required_when).to_numpy(dtype=bool)
            if absent.any():
                parts.append(hits(events.index[absent], field=spec.name,
                                  explanation="required field is missing"))
        if column is None or missing.all():
            continue
        present = column[~missing] if missing.any() else column
        problems = _problems(spec, present, events)
        if problems is not None:
            bad = pd.notna(problems)
            parts.append(
                hits(
                    present.index[bad],
                    field=spec.name,
                    value=present[bad].to_numpy(),
                    explanation=problems[bad],
                )
            )
    return pd.concat(parts) if parts else no_hits()


def _problems(spec: FieldSpec, values: pd.Series, events: pd.DataFrame) -> np.ndarray | None:
    """Per value (of ``events[spec.name]``): None when valid, else what is wrong (without
    the value itself); None instead of the array when every value is valid, as most are
    (a chunk's columns are checked hundreds of times per million events)."""
    problems: np.ndarray | None = None
    typed = _type_ok(spec.type, values)
    ok, at = values, None  # the values still valid, and their positions (None: all)
    if typed is not None:
        problems = np.full(len(values), None, dtype=object)
        found = values[~typed].map(json_type)
        problems[~typed] = ("expected " + spec.type + ", found " + found).to_numpy()
        at = np.flatnonzero(typed)
        ok = values[typed]
    for check, explanation in _constraint_checks(spec, events):
        if ok.empty:
            break
        failed = check(ok).to_numpy(dtype=bool)
        if failed.any():
            if problems is None:
                problems = np.full(len(values), None, dtype=object)
            problems[np.flatnonzero(failed) if at is None else at[failed]] = explanation
            at = np.flatnonzero(~failed) if at is None else at[~failed]
            ok = ok[~failed]
    return problems


def _type_ok(type_name: str, values: pd.Series) -> np.ndarray | None:
    """Whether each value has the JSON type; None when all have (the common case)."""
    dtype = values.dtype
    if dtype.kind == "O":
        # One C pass answers the common case (every value of the expected type).
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred == _INFERRED_OK.get(type_name):
            return None
    if type_name == "string":
        if pd.api.types.is_string_dtype(dtype) and dtype.kind != "O":
            return None
        return _all_or_mask(values.map(lambda v: isinstance(v, str)))
    if type_name == "boolean":
        if pd.api.types.is_bool_dtype(dtype):
            return None
        return _all_or_mask(values.map(lambda v: isinstance(v, bool)))
    if type_name == "integer":
        if pd.api.types.is_integer_dtype(dtype):
            return None
        if pd.api.types.is_float_dtype(dtype):  # integers with gaps arrive as floats
            return _all_or_mask(values % 1 == 0)
        return _all_or_mask(values.map(
            lambda v: (
                (isinstance(v, int) and not isinstance(v, bool))
                or (isinstance(v, float) and v.is_integer())
            )
        ))
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return None
    return _all_or_mask(values.map(
        lambda v: isinstance(v, int | float) and not isinstance(v, bool)))


def _all_or_mask(ok: pd.Series) -> np.ndarray | None:
    mask = ok.to_numpy(dtype=bool)
    return None if mask.all() else mask


_INFERRED_OK = {"string": "string", "boolean": "boolean", "integer": "integer"}

Check = tuple[Callable[["pd.Series"], "pd.Series"], str]


def _constraint_checks(spec: FieldSpec, events: pd.DataFrame) -> list[Check]:
    """Vectorised constraint checks in the order they are reported."""
    checks: list[Check] = []
    if spec.format == "date-time":
        checks.append(
            (
                lambda s: ~_full_match(s, DATE_TIME_RE) | _bad_time(events, spec.name, s),
                "not an ISO 8601 date-time with a time zone",
            )
        )
    elif spec.format == "guid":
        checks.append((lambda s: ~_full_match(s, GUID_RE), "not a GUID"))
    if spec.enum is not None:
        allowed = list(spec.enum)
        shown = ", ".join(str(v) for v in allowed)
        checks.append((lambda s: ~s.isin(allowed), f"not one of the allowed values ({shown})"))
    if spec.pattern is not None:
        pattern = spec.pattern
        checks.append((lambda s: ~_full_match(s, pattern), f"does not match the pattern {pattern}"))
    if spec.minimum is not None:
        low = spec.minimum
        checks.append((lambda s: pd.to_numeric(s) < low, f"below the minimum {low:g}"))
    if spec.maximum is not None:
        high = spec.maximum
        checks.append((lambda s: pd.to_numeric(s) > high, f"above the maximum {high:g}"))
    return checks


def _full_match(values: pd.Series, pattern: str) -> pd.Series:
    """Vectorised full match: RE2 over Arrow strings, Python's re where RE2 cannot."""
    try:
        matched = values.astype("string[pyarrow]").str.fullmatch(pattern)
    except Exception:  # a pattern RE2 does not support (pyarrow raises its own types)
        matched = values.astype(str).str.fullmatch(pattern, flags=re.ASCII)
    return matched.fillna(False).astype(bool)


def _bad_time(events: pd.DataFrame, column: str, values: pd.Series) -> pd.Series:
    """Whether each of ``values`` (rows of ``events[column]``) is not a real date and time
    (month 13, 30 February, offset +25:00); any year fits. The column is parsed once
    per chunk, shared with the events-over-time count."""
    from audit.ledger import chunk_times, whole_second_times

    if not events.index.is_unique:  # rows cannot be told apart by label: parse these
        return whole_second_times(values).isna()
    return chunk_times(events, column).reindex(values.index).isna()
