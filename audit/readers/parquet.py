"""Parquet via pyarrow, batch by batch; the line is the 1-based row index."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

from audit.readers import RawRecord, Reader, register

BATCH_ROWS = 50_000


def read(stream: IO[bytes]) -> Iterator[RawRecord]:
    """Yield rows as dicts (nested structs stay nested; the normaliser flattens them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = stream if stream.seekable() else io.BytesIO(stream.read())
    try:
        handle = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise OSError(f"not a readable Parquet file ({exc})") from None
    row = 0
    for batch in handle.iter_batches(batch_size=BATCH_ROWS):
        for data in batch.to_pylist():
            row += 1
            yield RawRecord(row, data)


register(Reader("parquet", (".parquet", ".pq"), read))
