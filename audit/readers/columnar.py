"""Arrow tables to the frames the normaliser expects, equal to what the Python path gives.

Columns of structs are flattened to dotted names (``ext.user.localId``), as
:func:`audit.normalize.flatten` does, and a column that holds only nulls is absent,
as a null key is. Only strings, integers, floats, booleans and nulls convert the same
way in both paths: a table with any other type (a list, a timestamp, a map, bytes)
gives None, and the caller reads those records one by one, keeping each value as the
format gave it.

Flattening can give two columns one name (a key ``"a.b"`` beside an object ``a`` with
a key ``b``). A record with a value in both is read by Python, which audits it with each
value (:func:`collisions` finds those rows); otherwise the columns are one
(:func:`merged`).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def frame_of(table: Any) -> pd.DataFrame | None:
    """The pyarrow Table as a flat DataFrame, or None where Python must read the records
    (a type that converts differently, or a name that two values of a record share)."""
    table = merged(flattened(table))
    if table is None or not all(_plain(kind) for kind in table.schema.types):
        return None
    # A column that holds only nulls is absent, as a null key is: dropped in Arrow, where
    # its null count says so, before pandas builds anything for it.
    table = table.select([i for i, column in enumerate(table.columns)
                          if column.null_count < len(column)])
    if table.num_columns > WIDE_COLUMNS:
        return _object_frame(table)
    # Schema metadata (a pandas index, pandas dtypes) would make the frame differ from
    # the records: the columns are taken as they are.
    return table.to_pandas(ignore_metadata=True)


#: Past this many columns a table becomes one block of Python objects: pandas pays per
#: column for every step on a frame of typed columns, and a wide record is mostly
#: undeclared keys that the checks read as objects anyway.
WIDE_COLUMNS = 1_000


def _object_frame(table: Any) -> pd.DataFrame:
    """A wide table as a frame of one object block (None for nulls), as
    :func:`audit.readers.batch_of` builds a wide batch."""
    import numpy as np
    import pandas as pd

    values = np.empty((table.num_rows, table.num_columns), dtype=object)  # all None
    for j, column in enumerate(table.columns):
        if column.null_count:  # only the values present are made objects
            rows = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
            values[rows, j] = column.drop_null().to_pylist()
        else:
            values[:, j] = column.to_pylist()
    return pd.DataFrame(values, columns=table.column_names, dtype=object, copy=False)


def flattened(table: Any) -> Any:
    """The table with struct columns flattened to dotted names, at any depth."""
    while any(_is_struct(kind) for kind in table.schema.types):
        table = table.flatten()
    return table


def collisions(table: Any) -> dict[int, str]:
    """The rows of a flattened table that hold two values under one name: row → name."""
    import numpy as np

    names = table.column_names
    found: dict[int, str] = {}
    for name, count in Counter(names).items():
        if count < 2:
            continue
        valid = sum(_valid(table.column(i)) for i, n in enumerate(names) if n == name)
        for row in np.flatnonzero(valid > 1).tolist():
            found.setdefault(row, name)
    return found


def merged(table: Any) -> Any | None:
    """The flattened table with each name once: columns that share a name (no row has a
    value in two of them, see :func:`collisions`) become one. None when a row does have
    two, or their types differ: Python decides those records."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = table.column_names
    if len(set(names)) == len(names):
        return table
    if collisions(table):
        return None
    columns: dict[str, Any] = {}
    for i, name in enumerate(names):
        column = table.column(i)
        if name not in columns or pa.types.is_null(column.type):
            columns.setdefault(name, column)
            continue
        kept = columns[name]
        if pa.types.is_null(kept.type):
            columns[name] = column
        elif kept.type != column.type:
            return None
        else:
            columns[name] = pc.coalesce(kept, column)
    return pa.table(list(columns.values()), names=list(columns))


def _valid(column: Any) -> np.ndarray:
    import numpy as np

    return np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.int8)


def _is_struct(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_struct(kind))


def _plain(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind) or pa.types.is_null(kind))
