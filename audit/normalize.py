"""Flatten raw records and route them to their category, one chunk at a time.

The result keeps every record traceable: each row's label maps to its input and its line,
and records that cannot be routed are returned as rejections so that
``records read == audited + rejected`` always holds. A chunk may hold the records of
several small inputs read one after another (each row keeps its own), so that the rules
run once for all of them rather than once per file. A record rejected here was parsed,
so it is identified by a canonical serialisation of its flattened fields rather than
by raw bytes (the same whichever reader path or batch carried it).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from audit.mapping import FieldMapping
from audit.readers import Batch, Repeated, content_digest
from audit.readers.columnar import WIDE_COLUMNS
from audit.rulepack import Category, RulePack

_INTEGER = re.compile(r"-?\d+")


class Rejected(NamedTuple):
    """A rejected record of a chunk: its input (a position in the chunk's ``sources``),
    line, what is wrong and the digest of its content."""

    source: int
    line: int
    what: str
    digest: str


@dataclass(frozen=True, slots=True)
class Piece:
    """A batch as it goes into a chunk, with the input (a position in the chunk's
    ``sources``) of each of its rows and rejected records: one input, or several small
    ones whose records were read into one batch."""

    batch: Batch
    inputs: np.ndarray  # the input of each row of the batch's frame
    rejected: Sequence[int]  # the input of each of the batch's rejected records
    typed: bool  # False where every value is text (CSV): declared types are applied

    @classmethod
    def of(cls, source: int, batch: Batch, typed: bool) -> Piece:
        """A batch of one input."""
        return cls(batch, np.full(len(batch.frame), source, dtype=np.intp),
                   [source] * len(batch.rejected), typed)


@dataclass(frozen=True, slots=True)
class ChunkRepeats:
    """The repeated keys of a chunk's audited records, indexed by row label: ``keys``
    (field, count, values: one row per record and key, for their input/duplicate-key
    findings) and ``variants`` (field, value: each value a row does not hold, the field
    named as the field mapping names it, for the record to be checked with it too)."""

    keys: pd.DataFrame
    variants: pd.DataFrame


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records of one input or of several read one after another: events per category,
    each audited row's input and line, and the rejected records in input and line order.
    ``repeats`` is None unless an audited record repeats a key."""

    sources: tuple[str, ...]  # the inputs, as reports name them
    frames: Mapping[str, pd.DataFrame]
    lines: pd.Series  # row label -> line, for every audited row
    inputs: pd.Series  # row label -> position in ``sources``, for every audited row
    rejected: tuple[Rejected, ...]
    repeats: ChunkRepeats | None = None

    @property
    def audited(self) -> int:
        return len(self.lines)

    def sources_of(self, labels: pd.Index) -> str | np.ndarray:
        """The input of each of the rows ``labels``: one name when the chunk has one input
        (the common case, no array built), else one name per row."""
        if len(self.sources) == 1:
            return self.sources[0]
        names = np.asarray(self.sources, dtype=object)
        return names[self.inputs[labels].to_numpy()]


class DuplicateKey(ValueError):
    """Two values of a record have one dotted path: a key given twice, or names that
    collide once flattened (``{"a.b": 1, "a": {"b": 2}}``). :func:`flatten_all` reads
    such a record."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"duplicate key {key!r} after flattening")


def flatten(
    data: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Nested objects to dotted paths (``ext.user.localId``); nulls are absent.

    Two values with one dotted path raise :class:`DuplicateKey`: keeping either alone
    would audit the record without the other (pyarrow's flattened table would even hold
    the name twice). This is the common case's loop; :func:`flatten_all` the rare one's.
    """
    if isinstance(data, Repeated):
        raise DuplicateKey(prefix + data.first_repeated())
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


@dataclass(frozen=True, slots=True)
class Flat:
    """A record that gives a dotted path more than one value, flattened.

    ``row`` holds the last value of each path (what most JSON consumers keep) and
    ``given`` counts every value (``--limit keys`` bounds them); ``keys`` names each
    repeated key (path, how many values, their JSON text) and ``others`` each value the
    row does not hold (path, value), for the record to be audited with it too.
    """

    row: dict[str, Any]
    given: int
    keys: tuple[tuple[str, int, str], ...]
    others: tuple[tuple[str, Any], ...]


def flatten_all(data: Mapping[str, Any]) -> Flat:
    """Flatten a record keeping every value of every path: of keys an object repeats
    (:class:`~audit.readers.Repeated`) and of names that collide once flattened.

    A key repeated with objects (``"ext": {...}, "ext": {...}``) is named once, as
    ``ext``; the paths under it that then have two values are audited with each.
    """
    leaves: dict[str, list[Any]] = {}
    repeated: dict[str, list[Any]] = {}  # keys an object gives more than once
    given = 0

    def walk(obj: Mapping[str, Any], prefix: str) -> None:
        nonlocal given
        pairs = obj.pairs if isinstance(obj, Repeated) else tuple(obj.items())
        if isinstance(obj, Repeated):
            counts = Counter(key for key, _ in pairs)
            for key, value in pairs:
                if counts[key] > 1:
                    repeated.setdefault(prefix + key, []).append(value)
        for key, value in pairs:
            name = prefix + key
            if isinstance(value, dict):
                walk(value, name + ".")
            elif value is not None:
                leaves.setdefault(name, []).append(value)
                given += 1

    walk(data, "")
    collided = {name: values for name, values in leaves.items()  # once flattened
                if len(values) > 1 and not _under(name, repeated)}
    keys = {**repeated, **collided}
    others: list[tuple[str, Any]] = []
    for name, values in leaves.items():
        if len(values) < 2:
            continue
        seen = {_identity(values[-1])}
        for value in values[:-1]:  # each other distinct value once
            identity = _identity(value)
            if identity not in seen:
                seen.add(identity)
                others.append((name, value))
    return Flat({name: values[-1] for name, values in leaves.items()}, given,
                tuple((name, len(values), _json_text(values)) for name, values in keys.items()),
                tuple(others))


def _under(name: str, keys: Mapping[str, Any]) -> bool:
    """Whether the dotted path ``name`` is one of ``keys`` or lies under one."""
    if name in keys:
        return True
    dot = name.find(".")
    while dot >= 0:
        if name[:dot] in keys:
            return True
        dot = name.find(".", dot + 1)
    return False


def _identity(value: Any) -> tuple[str, str]:
    """What makes two values of a path the same (``1`` is not ``true``, nor ``1.0``)."""
    return type(value).__name__, _json_text(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


def normalize_chunk(
    pieces: Sequence[Piece], sources: tuple[str, ...], pack: RulePack, *, start: int = 0,
    mapping: FieldMapping | None = None,
) -> Chunk:
    """Route the pieces' rows to their categories (after the field mapping, if any), as
    one frame whose row labels start at ``start``.

    The mapping is applied to each piece on its own: which reference fields it replaces
    depends on the columns present, and those must be the input's, not its neighbours'.
    """
    raw = [_unforged(piece.batch.frame) for piece in pieces]
    mapped = raw if mapping is None else [mapping.apply(frame) for frame in raw]
    frame = _consolidated(_stacked(mapped))
    frame.index = pd.RangeIndex(start, start + len(frame))
    sizes = [len(f) for f in raw]
    inputs = pd.Series(np.concatenate([p.inputs for p in pieces]) if len(pieces) > 1
                       else pieces[0].inputs, index=frame.index, dtype=np.intp)
    lines = pd.Series(np.concatenate([p.batch.lines for p in pieces]) if len(pieces) > 1
                      else pieces[0].batch.lines, index=frame.index, dtype="int64")
    # Rows of untyped inputs (CSV) get their declared types; the others keep theirs.
    text_rows = None if all(p.typed for p in pieces) else \
        np.repeat([not p.typed for p in pieces], sizes)
    rejected = [Rejected(source, *r) for p in pieces
                for source, r in zip(p.rejected, p.batch.rejected, strict=True)]
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
        chosen = mask.to_numpy()
        used = frame.columns[present[chosen].any(axis=0)]
        events = frame.loc[mask, used]
        if text_rows is not None and text_rows[chosen].any():
            events = coerce_declared(events, category, text_rows[chosen])
        frames[category.name] = events
    if not routed.all():
        unrouted = np.flatnonzero(~routed.to_numpy())
        # The records as read (before the mapping), only those rejected.
        digests = record_digests(_stacked(raw).iloc[unrouted] if mapping is not None
                                 else frame.iloc[unrouted])
        reasons = _category_values(frame, pack, ~routed, mapping)
        for at, what, digest in zip(unrouted.tolist(), reasons, digests, strict=True):
            rejected.append(Rejected(int(inputs.iat[at]), int(lines.iat[at]), what, digest))
        lines, inputs = lines[routed], inputs[routed]
    rejected.sort()
    repeats = None if all(p.batch.repeats is None for p in pieces) else \
        _repeats(pieces, raw, frame.index, routed.to_numpy(), mapping)
    return Chunk(sources, frames, lines, inputs, tuple(rejected), repeats)


def _repeats(pieces: Sequence[Piece], raw: list[pd.DataFrame], labels: pd.Index,
             routed: np.ndarray, mapping: FieldMapping | None) -> ChunkRepeats:
    """The pieces' repeated keys and other values by row label, for routed rows only: a
    rejected record is not audited, with any of its values."""
    keys: list[tuple[int, str, int, str]] = []
    variants: list[tuple[int, str, Any]] = []
    offset = 0
    for piece, frame in zip(pieces, raw, strict=True):
        found = piece.batch.repeats
        if found is not None:
            keys.extend((offset + k.row, k.field, k.count, k.values) for k in found.keys
                        if routed[offset + k.row])
            for v in found.variants:
                name = v.field if mapping is None else mapping.name_of(v.field, frame.columns)
                if routed[offset + v.row] and name is not None:
                    variants.append((offset + v.row, name, v.value))
        offset += len(frame)

    def framed(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
        positions = [row[0] for row in rows]
        return pd.DataFrame([row[1:] for row in rows], columns=columns,
                            index=labels[positions], dtype=object)

    return ChunkRepeats(framed(keys, ["field", "count", "values"]),
                        framed(variants, ["field", "value"]))


#: A frame with more columns than `WIDE_COLUMNS` (a record with thousands of keys) and at
#: most `WIDE_CELLS` values is made one block of objects (see :func:`_consolidated`);
#: the readers give wide batches so already.
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


def _unforged(frame: pd.DataFrame) -> pd.DataFrame:
    """A field whose name starts with NUL is renamed (``\\x00…``): such names are kept for
    what the field mapping adds beside an id (`ID_PREFIX`), which the checks read and
    never report."""
    if not any(isinstance(c, str) and c.startswith("\x00") for c in frame.columns):
        return frame
    return frame.rename(columns=lambda c: "\\x00" + c[1:]
                        if isinstance(c, str) and c.startswith("\x00") else c)


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames' rows one after another (the columns of all of them)."""
    rows = [frame for frame in frames if len(frame)] or frames[:1]
    if len(rows) == 1:
        return rows[0]
    return pd.concat(rows, ignore_index=True, sort=False)


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
                "field mapping: --mapping NAME (telemetry-audit mappings list) or --mapping "
                "FILE, a YAML file naming the source path of each reference field")
    if mapping.route is not None and "category" in fields:
        return (f"{missing}; the field mapping routes events by {mapping.route.field}, "
                "which this record does not have")
    sources = sorted(s for name in fields for s in mapping.sources_of(name))
    if sources:
        return (f"{missing}; the field mapping takes it from {' or '.join(sources)}, "
                "which this record does not have")
    return f"{missing}; the field mapping (--mapping) names no source field for it"


def coerce_declared(events: pd.DataFrame, category: Category,
                    rows: np.ndarray | None = None) -> pd.DataFrame:
    """Give text values (CSV) their declared types where they parse; others stay text.
    ``rows`` (a mask) limits it to the rows of untyped inputs, where the events of a
    chunk come from several."""
    events = events.copy()
    for spec in category.fields.values():
        if spec.type == "string" or spec.name not in events.columns:
            continue
        column = events[spec.name]
        values = column if rows is None or rows.all() else column[rows]
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            text = values.dropna()  # the CSV case: every value is text
        else:
            text = values.map(lambda v: v if isinstance(v, str) else None).dropna()
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
