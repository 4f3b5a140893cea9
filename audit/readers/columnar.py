"""Arrow tables to the frames the normaliser expects, equal to what the Python path gives.

Columns of structs are flattened to dotted names (``ext.user.localId``), as
:func:`audit.normalize.flatten` does, and a column that holds only nulls is absent,
as a null key is. Only strings, integers, floats, booleans and nulls convert the same
way in both paths: a table with any other type (a list, a timestamp, a map, bytes)
gives None, and the caller reads those records one by one, keeping each value as the
format gave it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def frame_of(table: Any) -> pd.DataFrame | None:
    """The pyarrow Table as a flat DataFrame, or None where Python must read the records."""
    while any(_is_struct(kind) for kind in table.schema.types):
        table = table.flatten()
    if not all(_plain(kind) for kind in table.schema.types):
        return None
    # Schema metadata (a pandas index, pandas dtypes) would make the frame differ from
    # the records: the columns are taken as they are.
    frame = table.to_pandas(ignore_metadata=True)
    return frame.dropna(axis=1, how="all")


def _is_struct(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_struct(kind))


def _plain(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind) or pa.types.is_null(kind))
