"""Flatten raw records and route them to their category, one chunk at a time.

The result keeps every record traceable: each row's label maps to its line in
``meta``, and records that cannot be routed are returned as rejections so that
``records read == audited + rejected`` always holds. A record rejected here was parsed,
so it is identified by a canonical serialisation of its flattened fields rather than
by raw bytes (the same whichever reader path or batch carried it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.mapping import FieldMapping
from audit.readers import Batch, Rejection, content_digest
from audit.rulepack import Category, RulePack

_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of one input: events per category, their lines, and the rejected records."""

    source: str
    frames: Mapping[str, pd.DataFrame]
    lines: pd.Series  # row label -> line, for every audited row
    rejected: tuple[Rejection, ...]  # (line, what is wrong, digest of the content)

    @property
    def audited(self) -> int:
        return len(self.lines)


class DuplicateKey(ValueError):
    """Two values of a record flatten to one name: ``{"a.b": 1, "a": {"b": 2}}``."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"duplicate key {key!r} after flattening")


def flatten(
    data: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Nested objects to dotted paths (``ext.user.localId``); nulls are absent.

    Two values with one dotted path raise :class:`DuplicateKey`: keeping either would
    audit the record without the other, as a repeated key would (pyarrow's flattened
    table would hold the name twice).
    """
    flat: dict[str, Any] = {} if out is None else out
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flatten(value, name + ".", flat)
        elif value is not None:
            if name in flat:
                raise DuplicateKey(name)
            flat[name] = value
    return flat


def normalize_chunk(
    batch: Batch, source: str, pack: RulePack, *, typed: bool, start: int = 0,
    mapping: FieldMapping | None = None,
) -> Chunk:
    """Route a batch's rows to their categories (after the field mapping, if any);
    row labels start at ``start``."""
    frame = _consolidated(batch.frame if mapping is None else mapping.apply(batch.frame))
    frame.index = pd.RangeIndex(start, start + len(frame))
    rejected = list(batch.rejected)
    routed = pd.Series(False, index=frame.index)
    present = frame.notna().to_numpy()
    frames: dict[str, pd.DataFrame] = {}
    for category in pack.categories.values():
        if category.select_field not in frame.columns:
            continue
        mask = (frame[category.select_field] == category.select_value) & ~routed
        if not mask.any():
            continue
        routed |= mask
        # Only the columns the category's rows use are copied (all-null ones are absent).
        used = frame.columns[present[mask.to_numpy()].any(axis=0)]
        events = frame.loc[mask, used]
        frames[category.name] = events if typed else coerce_declared(events, category)
    line_series = pd.Series(batch.lines, index=frame.index, dtype="int64")
    if not routed.all():
        unrouted = ~routed
        # The records as read (before the mapping), only those rejected.
        digests = record_digests(batch.frame.iloc[np.flatnonzero(unrouted.to_numpy())])
        reasons = _category_values(frame, pack, unrouted, mapping)
        for line, what, digest in zip(line_series[unrouted], reasons, digests, strict=True):
            rejected.append(Rejection(int(line), what, digest))
        line_series = line_series[routed]
    rejected.sort()
    return Chunk(source, frames, line_series, tuple(rejected))


#: A frame with more columns than this (a record with thousands of keys) and at most
#: `WIDE_CELLS` values is made one block of objects (see :func:`_consolidated`).
WIDE_COLUMNS = 1_000
WIDE_CELLS = 1 << 22


def _consolidated(frame: pd.DataFrame) -> pd.DataFrame:
    """A wide frame as one block of objects. pandas works on a frame block by block, and
    each string column is a block of its own: every step over a frame of 100,000 columns
    (which values are present, the rows of a category) would cost 100,000 steps. Frames
    of many rows are left as they are: there the work per value dominates, and objects
    would take more memory."""
    if frame.shape[1] <= WIDE_COLUMNS or frame.size > WIDE_CELLS:
        return frame
    return pd.DataFrame(frame.to_numpy(dtype=object), index=frame.index,
                        columns=frame.columns, dtype=object)


def record_digests(rows: pd.DataFrame) -> list[str]:
    """The digest of each parsed record's canonical text: its present fields, sorted, each
    value as JSON gives it (a float column's 3.0 is the 3 the record holds), so the same
    record has the same digest whatever types its batch gave its columns."""
    records: list[dict[str, Any]] = [{} for _ in range(len(rows))]
    names = rows.columns.tolist()
    values = rows.to_numpy(dtype=object)  # one pass, not a Series per column
    for i, j in zip(*np.nonzero(rows.notna().to_numpy()), strict=True):
        records[i][names[j]] = _plain(values[i, j])
    return [content_digest(json.dumps(record, sort_keys=True, ensure_ascii=False,
                                      separators=(",", ":"), default=str))
            for record in records]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _category_values(frame: pd.DataFrame, pack: RulePack, mask: pd.Series,
                     mapping: FieldMapping | None) -> list[str]:
    """Why each unrouted record has no category. Decided by the record's own values
    (the first select field it has), never by which columns its batch happens to hold,
    so a record is rejected for the same reason wherever it sits."""
    fields = sorted({c.select_field for c in pack.categories.values()})
    known = ", ".join(sorted(str(c.select_value) for c in pack.categories.values()))
    rows = frame.loc[mask]
    reasons = [_no_category(fields, mapping)] * len(rows)
    for field in reversed(fields):  # the first field a record has decides
        if field in rows.columns:
            for i in np.flatnonzero(rows[field].notna().to_numpy()).tolist():
                reasons[i] = f"unknown {field} (expected one of {known})"
    return reasons


def _no_category(fields: list[str], mapping: FieldMapping | None) -> str:
    """A record with no select field: most often a capture in another format, which a
    field mapping can audit; say so, or say what the mapping in use failed to give."""
    missing = f"no {' or '.join(fields)} field"
    if mapping is None:
        return (f"{missing}; if the capture is in another event format, audit it with a "
                "field mapping: --mapping FILE, a YAML file naming the source path of each "
                "reference field")
    sources = sorted(source for source, name in mapping.renames.items() if name in fields)
    if sources:
        return (f"{missing}; the field mapping takes it from {' or '.join(sources)}, "
                "which this record does not have")
    return f"{missing}; the field mapping (--mapping) names no source field for it"


def coerce_declared(events: pd.DataFrame, category: Category) -> pd.DataFrame:
    """Give text values (CSV) their declared types where they parse; others stay text."""
    events = events.copy()
    for spec in category.fields.values():
        if spec.type == "string" or spec.name not in events.columns:
            continue
        column = events[spec.name]
        if pd.api.types.infer_dtype(column, skipna=True) == "string":
            text = column.dropna()  # the CSV case: every value is text
        else:
            text = column.map(lambda v: v if isinstance(v, str) else None).dropna()
        if text.empty:
            continue
        if spec.type == "integer":
            ok = text[text.str.fullmatch(_INTEGER)]
            converted = ok.map(int)
        elif spec.type == "number":
            numbers = pd.to_numeric(text, errors="coerce")
            converted = numbers[numbers.notna()]
        else:
            lowered = text.str.lower()
            converted = lowered[lowered.isin(["true", "false"])].map({"true": True, "false": False})
        if not converted.empty:
            column = column.astype(object)
            column[converted.index] = converted.to_numpy()
            events[spec.name] = column
    return events
