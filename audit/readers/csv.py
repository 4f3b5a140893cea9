"""CSV with a header row: header on line 1, each record keeps its first physical line.

Every CSV value is text, so the normaliser converts declared fields to their
declared types (``"12"`` → 12 for an integer field); an empty cell is absent.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from audit.readers import (
    RawRecord,
    Reader,
    UnusableFile,
    has_surrogates,
    register,
    text_stream,
)

_REST_UNREAD = " (a quoted value is never closed: the lines after it are part of it)"


def read(stream: IO[bytes]) -> Iterator[RawRecord]:
    """Yield one record per data row; a row of the wrong width is rejected."""
    rows = csv.reader(text_stream(stream), strict=True)
    header: list[str] | None = None
    start = 1
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader goes on after the record it refused; only a quote left open runs
            # to the end of the file, which then holds nothing more to read.
            rest = _REST_UNREAD if rows.line_num > start else ""
            yield RawRecord(start, error=f"invalid CSV: {exc}{rest}")
            start = rows.line_num + 1
            continue
        line, start = start, rows.line_num + 1
        if not row:
            continue
        if header is None:
            if any(has_surrogates(c) for c in row):
                yield RawRecord(line, error="invalid UTF-8 in the header")
                return
            repeated = sorted({name for name in row if row.count(name) > 1})
            if repeated:  # one value per name would be silently dropped from every row
                raise UnusableFile(f"duplicate column {repeated[0]!r} in the header", line)
            header = row
            continue
        if len(row) != len(header):
            yield RawRecord(line, error=f"expected {len(header)} columns, found {len(row)}")
        elif any(has_surrogates(c) for c in row):
            yield RawRecord(line, error="invalid UTF-8")
        else:
            yield RawRecord(line, {k: v for k, v in zip(header, row, strict=True) if v != ""})


register(Reader("csv", (".csv",), read, typed=False))
