"""Parquet via pyarrow, batch by batch; the line is the 1-based row index.

A timestamp column is read as ISO 8601 text (``2026-03-02 10:00:00Z``), the form a JSON
dump carries: the schema's ``date-time`` format and the ledger's event times read it
the same way, and a timestamp without a time zone fails that format as its text would.
Batches whose columns are then strings, numbers, booleans and structs of them become
frames in C (:func:`audit.readers.columnar.frame_of`); a batch with a list or another
type is read record by record, so each value stays as the file holds it.

A column ``a.b`` beside a struct ``a`` with a field ``b`` gives two columns of one name:
a row with a value in both is read record by record and audited with each value, as a
JSON record with both keys is (:class:`~audit.readers.Repeated`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from itertools import accumulate, pairwise
from pathlib import Path
from typing import IO, Any

from audit.limits import BATCH_CELLS, DEFAULT_LIMITS, Limits
from audit.readers import Batch, Part, RawRecord, Reader, Repeated, batch_of, register
from audit.readers.columnar import frame_of

BATCH_ROWS = 50_000


def _opened(stream: IO[bytes]) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = stream if stream.seekable() else io.BytesIO(stream.read())
    try:
        return pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise OSError(f"not a readable Parquet file ({exc})") from None


def _rows_per_batch(opened: Any, rows: int) -> int:
    """At most ``rows``, and few enough that a batch of all the file's columns stays
    within :data:`~audit.limits.BATCH_CELLS` (a file of many sparse columns compresses its
    nulls away; a frame would hold a cell for each)."""
    return max(1, min(rows, BATCH_CELLS // max(1, len(opened.schema))))


def _text_times(batch: Any) -> Any:
    """The batch as a table, structs flattened to dotted names and timestamps as text."""
    import pyarrow as pa

    table = pa.Table.from_batches([batch])
    while any(pa.types.is_struct(kind) for kind in table.schema.types):
        table = table.flatten()
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield rows as dicts (nested names dotted, timestamps as ISO 8601 text)."""
    import numpy as np

    row = 0
    opened = _opened(stream)
    for batch in opened.iter_batches(batch_size=_rows_per_batch(opened, BATCH_ROWS)):
        lines = np.arange(row + 1, row + 1 + batch.num_rows, dtype=np.int64)
        row += batch.num_rows
        yield from (RawRecord(line, data) for line, data
                    in zip(lines.tolist(), _rows(_text_times(batch)), strict=True))


def read_batches(stream: IO[bytes], chunk_rows: int, string_fields: frozenset[str],
                 first_line: int = 1, part: Part | None = None, *,
                 limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of ``chunk_rows`` rows, converted by pyarrow where the types allow; of the
    row groups ``part.start`` to ``part.stop`` only when a part is given (see :func:`cut`).

    ``string_fields`` is not needed: Parquet columns have their types, and a declared
    string field stored as numbers is seen as numbers by either path.
    """
    import numpy as np

    row = first_line - 1
    groups = None if part is None else list(range(part.start, part.stop))
    opened = _opened(stream)
    for batch in opened.iter_batches(batch_size=_rows_per_batch(opened, chunk_rows),
                                     row_groups=groups):
        lines = np.arange(row + 1, row + 1 + batch.num_rows, dtype=np.int64)
        row += batch.num_rows
        if not batch.num_rows:
            continue
        table = _text_times(batch)
        frame = frame_of(table)  # None where a row has two values under one name
        if frame is not None:
            yield Batch(frame, lines, [])
        else:
            yield batch_of([RawRecord(line, data) for line, data
                            in zip(lines.tolist(), _rows(table), strict=True)], limits)


def _rows(table: Any) -> list[dict[str, Any]]:
    """The table's rows as dicts; where two columns share a name, the value present is
    kept, never a null beside it, and a row with a value in both is a
    :class:`~audit.readers.Repeated` of its values in column order."""
    names = table.column_names
    if len(set(names)) == len(names):
        return list(table.to_pylist())
    columns = [column.to_pylist() for column in table.columns]
    rows: list[dict[str, Any]] = []
    for i in range(table.num_rows):
        pairs = [(name, values[i]) for name, values in zip(names, columns, strict=True)
                 if values[i] is not None]
        row = dict(pairs)
        rows.append(row if len(row) == len(pairs) else Repeated(pairs))
    return rows


def cut(path: Path, parts: int) -> list[Part] | None:
    """About ``parts`` runs of whole row groups with as many rows each, for processes to
    read apart (a row group is the smallest piece a Parquet file can be read by); None
    for a file of one row group."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # an unreadable file is reported when it is read
        return None
    rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    if len(rows) < 2:
        return None
    before = [0, *accumulate(rows)]  # rows before each group
    bounds = [0]
    for group in range(1, len(rows)):
        if len(bounds) < parts and before[group] >= before[-1] * len(bounds) / parts:
            bounds.append(group)
    bounds.append(len(rows))
    return [Part(a, b, before[a] + 1) for a, b in pairwise(bounds)]


register(Reader("parquet", (".parquet", ".pq"), read, batches=read_batches, cut=cut))
