"""CSV with a header row: header on line 1, each record keeps its first physical line.

Every CSV value is text, so the normaliser converts declared fields to their
declared types (``"12"`` → 12 for an integer field); an empty cell is absent.

Batches of well-formed lines (every field plain or wholly quoted, one record per line,
valid UTF-8, the header's width) are parsed by pyarrow. From the first batch that is
not, Python's csv module reads the rest of the file, so a record spanning lines, a
stray quote or a row of the wrong width is read exactly as it always was.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import (
    Batch,
    RawRecord,
    Reader,
    UnusableFile,
    has_surrogates,
    line_ends,
    record_batches,
    register,
    reject,
    text_stream,
)
from audit.readers.columnar import frame_of

if TYPE_CHECKING:
    import numpy as np

_REST_UNREAD = " (a quoted value is never closed: the lines after it are part of it)"
READ_BLOCK = 1 << 24  # bytes read at a time; batches are cut at line ends
#: A line pyarrow reads as Python would: fields plain (no quote) or wholly quoted.
_FIELD = r'(?:[^",\r\n]*|"(?:[^"\r\n]|"")*")'
WELL_FORMED = rf"^{_FIELD}(?:,{_FIELD})*\r?\n?$"


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield one record per data row; a row of the wrong width is rejected."""
    return _records(stream)


def _records(stream: IO[bytes], header: list[str] | None = None, first_line: int = 1
             ) -> Iterator[RawRecord]:
    """The records of ``stream``, whose first line is ``first_line`` of the file; with
    ``header`` (already read), every row is a record.

    The physical lines of the record being read are kept until it is done (csv reads
    none ahead), so a rejected row is identified by its text, line breaks inside it
    included, and an accepted one costs a list cleared.
    """
    taken: list[str] = []

    def lines() -> Iterator[str]:
        for text in text_stream(stream):
            taken.append(text)
            yield text

    def rejected(line: int, what: str) -> RawRecord:
        return reject(line, what, "".join(taken).rstrip("\r\n"))

    rows = csv.reader(lines(), strict=True)
    offset = first_line - 1
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
            yield rejected(start + offset, f"invalid CSV: {exc}{rest}")
            taken.clear()
            start = rows.line_num + 1
            continue
        line, start = start + offset, rows.line_num + 1
        if not row:
            taken.clear()
            continue
        if header is None:
            if any(has_surrogates(c) for c in row):
                yield rejected(line, "invalid UTF-8 in the header")
                return
            repeated = sorted({name for name in row if row.count(name) > 1})
            if repeated:  # one value per name would be silently dropped from every row
                raise UnusableFile(f"duplicate column {repeated[0]!r} in the header", line)
            header = row
        elif len(row) != len(header):
            yield rejected(line, f"expected {len(header)} columns, found {len(row)}")
        elif any(has_surrogates(c) for c in row):
            yield rejected(line, "invalid UTF-8")
        else:
            yield RawRecord(line, {k: v for k, v in zip(header, row, strict=True) if v != ""})
        taken.clear()


def read_batches(stream: IO[bytes], chunk_rows: int, string_fields: frozenset[str],
                 first_line: int = 1, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of ``chunk_rows`` lines, parsed by pyarrow while the lines are well formed
    (see the module's note); every value stays text, as in Python's path."""
    data = stream.read(READ_BLOCK)
    end = data.find(b"\n")
    header = _plain_header(data[:end + 1]) if end >= 0 else None
    if header is None:  # a header Python must judge (or no line break at all)
        yield from _python_batches(_joined(data, stream), chunk_rows)
        return
    data, line, more = data[end + 1:], 2, True
    newlines = data.count(b"\n")
    while True:
        while more and newlines < chunk_rows:
            block = stream.read(READ_BLOCK)
            more = bool(block)
            data += block
            newlines += block.count(b"\n")
        if not data:
            return
        ends = line_ends(data)[:chunk_rows]
        cut = int(ends[-1]) + 1 if len(ends) == chunk_rows else len(data)
        batch = _arrow_batch(data[:cut], ends, header, line)
        if batch is None:  # from here on Python reads, records spanning lines included
            yield from _python_batches(_joined(data, stream), chunk_rows, header, line)
            return
        if batch.records:
            yield batch
        line += len(ends) + (data[cut - 1:cut] != b"\n")  # a last line without newline
        data, newlines = data[cut:], newlines - len(ends)


def _plain_header(raw: bytes) -> list[str] | None:
    """The header line's names, when pyarrow can take the rows under it: one line of
    valid UTF-8, distinct names that are not empty; else None (Python reads the file
    and judges it)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None
    if len(rows) != 1 or not rows[0] or len(set(rows[0])) != len(rows[0]) or "" in rows[0]:
        return None
    return rows[0]


def _arrow_batch(chunk: bytes, ends: np.ndarray, header: list[str], first_line: int
                 ) -> Batch | None:
    """The records of whole lines (newlines at ``ends``), parsed by pyarrow; None when a
    line is not well formed, so Python must read from here."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if chunk.count(b"\r") != chunk.count(b"\r\n"):  # a lone CR ends a line for Python
        return None
    starts = np.concatenate(([0], ends + 1))
    if starts[-1] >= len(chunk):
        starts = starts[:-1]
    stops = np.append(ends, len(chunk))[: len(starts)]
    width = stops - starts
    blank = (width == 0) | ((width == 1) & (np.frombuffer(chunk, dtype=np.uint8)[
        np.minimum(starts, len(chunk) - 1)] == 13))
    # Each line with its newline, as one Arrow array over the chunk's bytes (no copy).
    offsets = np.append(starts, len(chunk)).astype(np.int64)
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(chunk)])
    if not bool(np.all(_well_formed(lines) | blank)):
        return None
    convert = pcsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), null_values=[""],
        strings_can_be_null=True, quoted_strings_can_be_null=True, check_utf8=True)
    try:
        table = pcsv.read_csv(
            io.BytesIO(chunk), read_options=pcsv.ReadOptions(column_names=header),
            parse_options=pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=True),
            convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError, ValueError):  # width or UTF-8: Python says
        return None
    records = np.flatnonzero(~blank)
    frame = frame_of(table) if table.num_rows == len(records) else None
    if frame is None:
        return None
    return Batch(frame, (records + first_line).astype(np.int64), [])


def _well_formed(lines: Any) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.fill_null(pc.match_substring_regex(lines, WELL_FORMED), False).to_numpy(
        zero_copy_only=False)


def _python_batches(stream: IO[bytes], chunk_rows: int, header: list[str] | None = None,
                    first_line: int = 1) -> Iterator[Batch]:
    return record_batches(_records(stream, header, first_line), chunk_rows)


def _joined(head: bytes, rest: IO[bytes]) -> IO[bytes]:
    return io.BufferedReader(_Joined(head, rest))


class _Joined(io.RawIOBase):
    """Bytes already read, then the rest of a stream: Python reads on where pyarrow
    stopped."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


register(Reader("csv", (".csv",), read, typed=False, batches=read_batches))
