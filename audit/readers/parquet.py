"""Parquet via pyarrow, batch by batch; the line is the 1-based row index.

Batches whose columns are strings, numbers, booleans and structs of them become frames
in C (:func:`audit.readers.columnar.frame_of`); a batch with a list, a timestamp or
another type is read record by record, so each value stays as the file holds it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

from audit.readers import Batch, RawRecord, Reader, batch_of, register
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


def read(stream: IO[bytes]) -> Iterator[RawRecord]:
    """Yield rows as dicts (nested structs stay nested; the normaliser flattens them)."""
    row = 0
    for batch in _opened(stream).iter_batches(batch_size=BATCH_ROWS):
        for data in batch.to_pylist():
            row += 1
            yield RawRecord(row, data)


def read_batches(stream: IO[bytes], chunk_rows: int, string_fields: frozenset[str],
                 first_line: int = 1) -> Iterator[Batch]:
    """Batches of ``chunk_rows`` rows, converted by pyarrow where the types allow.

    ``string_fields`` is not needed: Parquet columns have their types, and a declared
    string field stored as numbers is seen as numbers by either path.
    """
    import numpy as np
    import pyarrow as pa

    row = first_line - 1
    for batch in _opened(stream).iter_batches(batch_size=chunk_rows):
        lines = np.arange(row + 1, row + 1 + batch.num_rows, dtype=np.int64)
        row += batch.num_rows
        if not batch.num_rows:
            continue
        frame = frame_of(pa.Table.from_batches([batch]))
        if frame is not None:
            yield Batch(frame, lines, [])
        else:
            yield batch_of([RawRecord(line, data)
                            for line, data in zip(lines.tolist(), batch.to_pylist(), strict=True)])


register(Reader("parquet", (".parquet", ".pq"), read, batches=read_batches))
