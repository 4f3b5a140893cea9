"""JSON Lines / NDJSON: one object per physical line; blank lines are not records.

Whole batches are parsed by pyarrow's JSON reader, which is many times faster
than a Python loop. Where pyarrow refuses a batch (a broken line, a value whose
type changes between records, a line that is not an object, bad UTF-8) or would
change a value (an inferred timestamp, a list), that batch alone is read line by
line in Python, so every record is still either audited or rejected with its
line, and the result is the same either way.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import (
    Batch,
    RawRecord,
    Reader,
    StrictJSON,
    batch_of,
    line_ends,
    register,
    reject,
)
from audit.readers.columnar import frame_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

READ_BLOCK = 1 << 24  # bytes read at a time; batches are cut at line ends
PARSE_BLOCK = 1 << 20  # bytes pyarrow parses per task
#: Lines opening more arrays and objects than this are parsed by Python (see _maybe_deep).
ARROW_MAX_OPENINGS = 512
_JSON = StrictJSON()
_WHITESPACE = (32, 9, 10, 13)


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield one record per non-blank line, with its 1-based physical line number."""
    for number, raw in enumerate(stream, start=1):
        if raw.strip():
            yield parse_line(number, raw)


def parse_line(number: int, raw: bytes) -> RawRecord:
    """One line → a record, or a rejection saying what is wrong (identified by the
    line's bytes without its line break, so LF and CRLF dumps agree)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return reject(number, f"invalid UTF-8 at byte {exc.start}", raw.rstrip(b"\r\n"))
    try:
        data, problem = _JSON.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return reject(number, f"invalid JSON: {exc.msg} (column {exc.colno})",
                      raw.rstrip(b"\r\n"))
    except RecursionError:
        return reject(number, "invalid JSON: nested too deeply", raw.rstrip(b"\r\n"))
    if not isinstance(data, dict):
        return reject(number, f"not a JSON object (found {type(data).__name__})",
                      raw.rstrip(b"\r\n"))
    if problem is not None:
        return reject(number, problem, raw.rstrip(b"\r\n"))
    return RawRecord(number, data)


def read_batches(stream: IO[bytes], chunk_rows: int, string_fields: frozenset[str],
                 first_line: int = 1, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of ``chunk_rows`` lines (blank ones included), parsed by pyarrow when it can.

    ``first_line`` is the line number of the stream's first line (a byte range of a
    file starts further down). Blocks are gathered until they hold whole batches, so
    every batch but the last is full: a block's tail does not become a small batch of
    its own, and the per-batch work is paid once per ``chunk_rows`` lines.
    """
    blocks: list[bytes] = []
    lines = 0
    while True:
        block = stream.read(READ_BLOCK)
        if block:
            blocks.append(block)
            lines += block.count(b"\n")
            if lines < chunk_rows:
                continue
        data = b"".join(blocks)
        ends = line_ends(data)  # found once, shared by its batches
        if not block:
            if data:
                yield from _batches(data, ends, first_line, chunk_rows, string_fields)
            return
        whole = lines - lines % chunk_rows
        cut = int(ends[whole - 1]) + 1
        yield from _batches(data[:cut], ends[:whole], first_line, chunk_rows, string_fields)
        first_line += whole
        lines -= whole
        blocks = [data[cut:]]


def _batches(data: bytes, ends: np.ndarray, first_line: int, chunk_rows: int,
             string_fields: frozenset[str]) -> Iterator[Batch]:
    """Cut a block of whole lines (``ends``: its newline offsets) into batches of
    ``chunk_rows`` lines."""
    import numpy as np

    if not len(ends) or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))  # the last line has no newline
    start_line = 0
    while start_line < len(ends):
        stop_line = min(start_line + chunk_rows, len(ends))
        begin = 0 if start_line == 0 else int(ends[start_line - 1]) + 1
        end = min(int(ends[stop_line - 1]) + 1, len(data))
        yield _batch(data[begin:end], ends[start_line:stop_line] - begin,
                     first_line + start_line, string_fields)
        start_line = stop_line


def _batch(chunk: bytes, ends: np.ndarray, first_line: int, string_fields: frozenset[str]
           ) -> Batch:
    """Parse whole lines (each ending at its offset in ``ends``, or at the end of the
    chunk) with pyarrow, else line by line."""
    import numpy as np

    raw = np.frombuffer(chunk, dtype=np.uint8)
    starts = np.concatenate(([0], ends + 1))
    if len(starts) and starts[-1] >= len(chunk):
        starts = starts[:-1]
    stops = np.append(ends, len(chunk))[: len(starts)]
    used = stops > starts
    # A line that starts with whitespace may be blank: only those are looked at one by one.
    doubtful = np.flatnonzero(used & np.isin(raw[np.minimum(starts, len(raw) - 1)], _WHITESPACE))
    for i in doubtful:
        used[i] = bool(chunk[int(starts[i]):int(stops[i])].strip())
    lines = (np.flatnonzero(used) + first_line).astype(np.int64)
    frame = None if _maybe_deep(chunk, starts, stops) else \
        _arrow_frame(chunk, int(used.sum()), string_fields)
    if frame is not None:
        return Batch(frame, lines, [])
    records = [parse_line(int(n), chunk[int(starts[i]):int(stops[i])])
               for i, n in zip(np.flatnonzero(used), lines, strict=True)]
    return batch_of(records)


def _maybe_deep(chunk: bytes, starts: np.ndarray, stops: np.ndarray) -> bool:
    """Whether some line opens more than `ARROW_MAX_OPENINGS` arrays and objects: pyarrow's
    parser recurses once per level and crashes the process on a line nested some
    thousands deep, so such a batch goes to Python's parser, which rejects the line
    as nested too deeply. Only a line longer than the limit can hold that many."""
    import numpy as np

    for i in np.flatnonzero(stops - starts > ARROW_MAX_OPENINGS).tolist():
        line = chunk[int(starts[i]):int(stops[i])]
        if line.count(b"[") + line.count(b"{") > ARROW_MAX_OPENINGS:
            return True
    return False


def _arrow_frame(chunk: bytes, expected_rows: int, string_fields: frozenset[str]
                 ) -> pd.DataFrame | None:
    """A flattened DataFrame from pyarrow, or None where Python must decide."""
    import pyarrow as pa
    import pyarrow.json as pj

    if not expected_rows:
        return None
    options = pj.ParseOptions(
        explicit_schema=pa.schema([(name, pa.string()) for name in sorted(string_fields)]),
        unexpected_field_behavior="infer",
    )
    # Blocks of PARSE_BLOCK bytes parse in parallel (and far faster than one big block);
    # a line longer than a block cannot be split, so a batch pyarrow refuses in blocks
    # is tried again whole before Python reads it.
    table = None
    for block_size in dict.fromkeys((min(PARSE_BLOCK, len(chunk) + 1), len(chunk) + 1)):
        try:
            table = pj.read_json(io.BytesIO(chunk), parse_options=options,
                                 read_options=pj.ReadOptions(block_size=block_size))
            break
        except (pa.ArrowInvalid, UnicodeDecodeError, ValueError):
            continue
    if table is None:
        return None
    if table.num_rows != expected_rows:
        return None
    return frame_of(table)  # None for lists, timestamps: Python keeps the JSON value


register(Reader("jsonl", (".jsonl", ".ndjson"), read, batches=read_batches, splittable=True))
