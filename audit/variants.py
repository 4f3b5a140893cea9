"""Variant rows: the other values of records' repeated keys, as frames the rules check.

A record that repeats a key keeps the last value of each dotted path in its row; each of
its other values is checked in a variant row (:func:`audit.checking.run_variants` keeps
what the rules find there on the varied field). A variant row holds its record's
*context* (the fields the category's rules select by, read or declare) and the values it
varies. A context field varies alone, one row per value, as the rules may read it with
the rest of the row (a consent gate reads the client, the subject and the time). Any
other field is read one value at a time whatever the row holds beside it, so the record's
j-th other value of each such field shares its j-th row: a record that repeats thousands
of keys once has one variant row, not thousands.

Records may repeat keys of their own, so rows are framed in groups whose cells stay
within about twice the values they hold: a frame has a cell for every row of every
column, and hostile records must not make that rows x keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Cells a group of variant rows may hold beyond twice its values: small groups of rows
#: with different fields are framed together rather than one by one.
SLACK_CELLS = 1 << 16

Row = tuple[int, dict[str, Any]]  # a record's row label, and the values the row varies


@dataclass(frozen=True, slots=True)
class VariantFrame:
    """Variant rows of one category: ``frame`` (positional labels), the row label of each
    row's record in ``mains``, and the fields each row varies in ``varied``."""

    frame: pd.DataFrame
    mains: np.ndarray
    varied: tuple[frozenset[str], ...]


def variant_frames(events: pd.DataFrame, variants: pd.DataFrame, context: Set[str]
                   ) -> Iterator[VariantFrame]:
    """The variant rows of ``variants`` (indexed by their record's row label in
    ``events``; columns ``field`` and ``value``, in document order), framed in groups.

    Within a record and field the rows come in document order, so that the first value
    that violates is the one reported when several do.
    """
    columns = [c for c in events.columns if c in context]
    rows = _rows(variants, context)
    mains = np.fromiter((label for label, _ in rows), dtype=np.int64, count=len(rows))
    # The records' context values, as objects once: typed (pyarrow) columns would be
    # converted again in every group's frame by every check.
    base = events.loc[mains, columns].to_numpy(dtype=object)
    start = 0
    for group in _groups(rows, len(columns)):
        stop = start + len(group)
        yield _framed(columns, base[start:stop], mains[start:stop], group)
        start = stop


def _rows(variants: pd.DataFrame, context: Set[str]) -> list[Row]:
    """A row per other value of a context field, then each record's j-th other value of
    every other field in its j-th row (the first rows of all records, then the second...)."""
    alone: list[Row] = []
    packed: dict[int, dict[str, list[Any]]] = {}
    for label, name, value in zip(variants.index.tolist(), variants["field"].tolist(),
                                  variants["value"].tolist(), strict=True):
        if name in context:
            alone.append((label, {name: value}))
        else:
            packed.setdefault(label, {}).setdefault(name, []).append(value)
    layers: list[tuple[int, Row]] = []
    for label, others in packed.items():
        rows: list[dict[str, Any]] = []  # the record's j-th row, in O(values)
        for name, values in others.items():
            for j, value in enumerate(values):
                if j == len(rows):
                    rows.append({})
                rows[j][name] = value
        layers.extend((j, (label, row)) for j, row in enumerate(rows))
    layers.sort(key=lambda layer: layer[0])  # stable: records stay in order in a layer
    return alone + [row for _, row in layers]


def _groups(rows: list[Row], width: int) -> Iterator[list[Row]]:
    """The rows cut into groups, in order, each framed with at most about twice the cells
    its rows fill (``width`` context cells each, and their own values)."""
    group: list[Row] = []
    names: set[str] = set()
    filled = 0
    for row in rows:
        own = width + len(row[1])
        new = [name for name in row[1] if name not in names]
        if group and (len(group) + 1) * (width + len(names) + len(new)) \
                > 2 * (filled + own) + SLACK_CELLS:
            yield group
            group, names, filled = [], set(), 0
            new = list(row[1])
        group.append(row)
        names.update(new)
        filled += own
    if group:
        yield group


def _framed(columns: list[str], base: np.ndarray, mains: np.ndarray, group: list[Row]
            ) -> VariantFrame:
    """The group's rows: each record's context values (``base``, a row each, of
    ``columns``), with the values the row varies (a field a row does not vary is absent
    from it, unless it is context)."""
    data = {name: base[:, j] for j, name in enumerate(columns)}
    placed: dict[str, list[tuple[int, Any]]] = {}
    for i, (_, values) in enumerate(group):
        for name, value in values.items():
            placed.setdefault(name, []).append((i, value))
    for name, at in placed.items():
        column = data[name].copy() if name in data else np.full(len(group), None, dtype=object)
        for i, value in at:
            column[i] = value  # one by one: a value may be a list
        data[name] = column
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(group)), dtype=object)
    return VariantFrame(frame, mains, tuple(frozenset(values) for _, values in group))
