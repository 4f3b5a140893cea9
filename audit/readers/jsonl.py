"""JSON Lines / NDJSON: one object per physical line; blank lines are not records.

Whole batches are parsed by pyarrow's JSON reader, which is many times faster
than a Python loop. Where pyarrow refuses a batch (a broken line, a value whose
type changes between records, a line that is not an object) or would change a value
(an inferred timestamp, a list), that batch alone is read line by line in Python, so
every record is still either audited or rejected with its line, and the result is the
same either way. When pyarrow names the line it refused, that line alone goes to Python
(which must reject it) and pyarrow reads the rest again, a few times a batch.

Some lines pyarrow would take although Python rejects them: bad UTF-8 inside a string
(pyarrow does not check it), ``NaN``, ``Infinity`` and numbers beyond a double (pyarrow
reads them as NaN or infinite doubles), and more keys than ``--limit keys`` allows
(pyarrow would build a column for each key of each record of the batch). Cheap checks
of the whole batch find them; those lines alone are decided by Python
(:func:`parse_line`), the others still by pyarrow.

A line that repeats a key is refused by pyarrow, and names that collide once flattened
(``"a.b"`` beside ``"a": {"b": ...}``) are found in its table: Python takes such a line,
with every value (:class:`~audit.readers.Repeated`), so its batch is read by Python.

A line longer than ``--limit record-bytes`` is rejected as it is read, streamed through
to its end and never held: a file of one endless line costs a bounded memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from audit.limits import BATCH_CELLS, DEFAULT_LIMITS, Limits
from audit.readers import (
    Batch,
    RawRecord,
    Reader,
    Rejection,
    StrictJSON,
    batch_of,
    line_ends,
    register,
    reject,
    repeat_in_array,
    too_long,
)
from audit.readers.columnar import collisions, flattened, frame_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

READ_BLOCK = 1 << 24  # bytes read at a time; batches are cut at line ends
PARSE_BLOCK = 1 << 20  # bytes pyarrow parses per task
#: A batch is also cut once it holds this many bytes: lines as long as the record limit
#: allows would otherwise make a batch of ``chunk_rows`` of them.
BATCH_BYTES = 1 << 26
#: Lines opening more arrays and objects than this are parsed by Python (see _maybe_deep).
ARROW_MAX_OPENINGS = 512
#: Lines of a batch that pyarrow refuses (a broken line, ``1e999``) which are left to
#: Python one by one, pyarrow parsing the rest again, before Python reads the whole batch.
ARROW_RETRIES = 3
_ROW = re.compile(r"in row (\d+)")
#: A key takes at least this many bytes of a line (``"":0,``): a shorter line cannot
#: hold more keys than the limit, so only longer ones have their colons counted.
_MIN_KEY_BYTES = 4
_JSON = StrictJSON(repeats=True)
_WHITESPACE = (32, 9, 10, 13)
_BOM = b"\xef\xbb\xbf"


class LineDigest:
    """:func:`~audit.readers.content_digest` of a line fed in pieces, its line break (and
    any ``\\r`` before it) left out as for a line read whole."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self._returns = 0  # trailing b"\r" held back: the line's end may strip them

    def update(self, piece: bytes) -> None:
        body = piece.rstrip(b"\r")
        if body:
            if self._returns:
                self._hash.update(b"\r" * self._returns)
            self._hash.update(body)
            self._returns = len(piece) - len(body)
        else:
            self._returns += len(piece)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield one record per non-blank line, with its 1-based physical line number; a line
    longer than the limit is rejected, read to its end a piece at a time."""
    limit = limits.record_bytes
    number = 0
    while raw := stream.readline(limit + 1):
        number += 1
        if len(raw) > limit and raw[limit:] != b"\n":
            digest = LineDigest()
            while raw and not raw.endswith(b"\n"):
                digest.update(raw)
                raw = stream.readline(READ_BLOCK)
            digest.update(raw.rstrip(b"\n"))
            yield RawRecord(number, error=too_long(limits), digest=digest.hexdigest())
        elif raw.strip():
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
    if problem is None and _JSON.repeated:
        problem = repeat_in_array(data)
    if problem is not None:
        return reject(number, problem, raw.rstrip(b"\r\n"))
    return RawRecord(number, data)


def read_batches(stream: IO[bytes], chunk_rows: int, string_fields: frozenset[str],
                 first_line: int = 1, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of ``chunk_rows`` lines (blank ones included), parsed by pyarrow when it can.

    ``first_line`` is the line number of the stream's first line (a byte range of a
    file starts further down). Blocks are gathered until they hold whole batches, so
    every batch but the last is full: a block's tail does not become a small batch of
    its own, and the per-batch work is paid once per ``chunk_rows`` lines. A batch is
    cut sooner past :data:`BATCH_BYTES`.

    A line longer than ``limits.record_bytes`` is left empty in the gathered bytes (so
    the lines after it keep their numbers) and rejected with the batch of its line; the
    part of it not yet read is streamed through, only hashed. What is held is about
    ``chunk_rows`` lines, one block and one limit's worth.
    """
    limit = limits.record_bytes
    pending: list[bytes] = []  # always starts at a line start, the line ``first_line``
    newlines = size = 0
    tail = 0  # bytes of ``pending`` after its last newline: the line being read
    rejected: list[Rejection] = []  # over-long lines, not yet given with their batch
    skipping: LineDigest | None = None  # the over-long line being streamed through
    skipped_line = 0
    retries = _Retries()
    while True:
        block = stream.read(READ_BLOCK)
        if skipping is not None:
            end = block.find(b"\n")
            skipping.update(block if end < 0 else block[:end])
            if end < 0 and block:
                continue
            rejected.append(Rejection(skipped_line, too_long(limits), skipping.hexdigest()))
            skipping, block = None, block[end:] if end >= 0 else b""  # its newline stays
        if block:
            pending.append(block)
            if _may_be_long(block, tail, limit):
                data, cut, skipping = _without_long_lines(b"".join(pending), first_line, limits)
                rejected += cut
                if skipping is not None:
                    skipped_line = first_line + data.count(b"\n")
                pending, newlines, size = [data], data.count(b"\n"), len(data)
                tail = len(data) - data.rfind(b"\n") - 1
            else:
                newlines += block.count(b"\n")
                size += len(block)
                last = block.rfind(b"\n")
                tail = tail + len(block) if last < 0 else len(block) - last - 1
            if newlines < chunk_rows and size < BATCH_BYTES:
                continue
        data = b"".join(pending)
        pending = [data]  # the blocks are let go: only the joined copy is held
        ends = line_ends(data)  # found once, shared by its batches
        if not block:
            if data or rejected:
                yield from _batches(data, ends, first_line, chunk_rows, string_fields, limits,
                                    rejected, retries)
            return
        whole = newlines - newlines % chunk_rows if newlines >= chunk_rows else newlines
        if not whole:  # bytes without a line end yet (a line over BATCH_BYTES may be allowed)
            continue
        cut_at = int(ends[whole - 1]) + 1
        given = [r for r in rejected if r.line < first_line + whole]
        rejected = [r for r in rejected if r.line >= first_line + whole]
        # The batches are cut from ``data`` up to ``cut_at``, not from a copy of that part.
        yield from _batches(data, ends[:whole], first_line, chunk_rows, string_fields,
                            limits, given, retries, stop=cut_at)
        first_line += whole
        newlines -= whole
        pending = [data[cut_at:]]
        size = len(pending[0])


#: Lines read to estimate the keys of a batch, and the fewest lines a batch is cut to.
SAMPLE_LINES = 256
MIN_BATCH_LINES = 1024
_SAMPLER = random.Random()  # seeded by the system: a dump cannot know which lines it picks


def _within_cells(data: bytes, ends: np.ndarray, start: int, stop: int) -> int:
    """Where to end the batch of lines ``start``…``stop`` so that its frame stays within
    :data:`BATCH_CELLS`: the batch's distinct keys are estimated from a random sample of
    its lines (a key seen in one sampled line stands for as many as the batch has lines
    per sample), and the batch halved while rows × keys would be more.

    A dump can hide keys from the sample only on few lines: on a fraction of the lines
    below one in :data:`SAMPLE_LINES`, which brings at most rows² / SAMPLE_LINES cells."""
    import orjson

    from audit.normalize import DuplicateKey, flatten

    while stop - start > MIN_BATCH_LINES:
        rows = stop - start
        seen: dict[str, int] = {}
        for i in _SAMPLER.sample(range(start, stop), min(SAMPLE_LINES, rows)):
            begin = 0 if i == 0 else int(ends[i - 1]) + 1
            try:
                record = orjson.loads(data[begin:int(ends[i])])
                names = flatten(record) if isinstance(record, dict) else {}
            except (orjson.JSONDecodeError, DuplicateKey, RecursionError):
                continue  # Python decides that line later
            for name in names:
                seen[name] = seen.get(name, 0) + 1
        sampled = min(SAMPLE_LINES, rows)
        once = sum(1 for n in seen.values() if n == 1)
        keys = len(seen) - once + once * rows / sampled
        if rows * keys <= BATCH_CELLS:
            break
        stop = start + rows // 2
    return stop


def _may_be_long(block: bytes, tail: int, limit: int) -> bool:
    """Whether a line may be longer than ``limit`` bytes, given a block that follows
    ``tail`` bytes of an unfinished line: False is sure, True is checked precisely.

    A run of more than ``limit`` bytes without a newline holds a whole aligned window of
    half the limit, so a few ``find`` calls per block suffice when the limit is large.
    """
    first = block.find(b"\n")
    if first < 0:
        return tail + len(block) > limit
    if tail + first > limit:
        return True
    window = (limit + 2) // 2
    if window < 1 << 16:  # many windows: counting the lines' lengths is quicker
        import numpy as np

        ends = line_ends(block)
        lengths = np.diff(np.append(ends, len(block))) - 1
        return bool(len(lengths) and int(lengths.max()) > limit)
    position = -(-(first + 1) // window) * window
    while position + window <= len(block):
        if block.find(b"\n", position, position + window) < 0:
            return True
        position += window
    return False


def _without_long_lines(data: bytes, first_line: int, limits: Limits
                        ) -> tuple[bytes, list[Rejection], LineDigest | None]:
    """``data`` (whole lines from ``first_line`` on, and the start of one more) with each
    line over the limit left empty, their rejections, and the digest of the last line
    begun when it is already over the limit and not ended (the caller streams through
    its rest; it is cut from the data)."""
    import numpy as np

    limit = limits.record_bytes
    ends = line_ends(data)
    starts = np.concatenate(([0], ends + 1))
    stops = np.append(ends, len(data))
    long_lines = np.flatnonzero(stops - starts > limit).tolist()
    pieces: list[bytes] = []
    rejected: list[Rejection] = []
    kept = 0
    skipping = None
    for i in long_lines:
        start, stop = int(starts[i]), int(stops[i])
        pieces.append(data[kept:start])
        digest = LineDigest()
        digest.update(data[start:stop])
        if i == len(ends):  # not ended yet
            skipping = digest
            kept = len(data)
            break
        rejected.append(Rejection(first_line + i, too_long(limits), digest.hexdigest()))
        kept = stop
    pieces.append(data[kept:])
    return b"".join(pieces), rejected, skipping


def _batches(data: bytes, ends: np.ndarray, first_line: int, chunk_rows: int,
             string_fields: frozenset[str], limits: Limits, rejected: list[Rejection],
             retries: _Retries, stop: int | None = None) -> Iterator[Batch]:
    """Cut a block of whole lines (``ends``: its newline offsets), up to ``stop`` (its
    end by default), into batches of ``chunk_rows`` lines; each over-long line's
    rejection goes with the batch of its line (the last batch takes one past the last
    line)."""
    import numpy as np
    import pandas as pd

    size = len(data) if stop is None else stop
    if not size:
        yield Batch(pd.DataFrame(), np.empty(0, dtype=np.int64), list(rejected))
        return
    if not len(ends) or ends[-1] != size - 1:
        ends = np.append(ends, size)  # the last line has no newline
    start_line = 0
    while start_line < len(ends):
        stop_line = _within_cells(data, ends, start_line, min(start_line + chunk_rows,
                                                              len(ends)))
        begin = 0 if start_line == 0 else int(ends[start_line - 1]) + 1
        end = min(int(ends[stop_line - 1]) + 1, size)
        last = stop_line == len(ends)
        mine = [r for r in rejected if last or r.line < first_line + stop_line]
        rejected = [r for r in rejected if not (last or r.line < first_line + stop_line)]
        yield _batch(data[begin:end], ends[start_line:stop_line] - begin,
                     first_line + start_line, string_fields, limits, mine, retries)
        start_line = stop_line


def _batch(chunk: bytes, ends: np.ndarray, first_line: int, string_fields: frozenset[str],
           limits: Limits = DEFAULT_LIMITS, rejected: list[Rejection] | None = None,
           retries: _Retries | None = None) -> Batch:
    """Parse whole lines (each ending at its offset in ``ends``, or at the end of the
    chunk) with pyarrow, else line by line; the lines pyarrow would take wrongly are
    decided by Python (see the module's note). ``rejected``: the batch's lines rejected
    already."""
    import numpy as np

    rejected = list(rejected or ())
    retries = retries or _Retries()
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
    records = np.flatnonzero(used)  # the lines that are records, by index

    def by_python(indices: Any) -> Batch:
        return batch_of([parse_line(int(i) + first_line, chunk[int(starts[i]):int(stops[i])])
                         for i in indices], limits)

    def all_by_python() -> Batch:
        batch = by_python(records)
        return Batch(batch.frame, batch.lines, [*batch.rejected, *rejected], batch.repeats)

    if _maybe_deep(chunk, starts, stops):
        return all_by_python()
    early = _early_suspects(chunk, starts, stops, records, limits)
    late: list[int] = []  # rows of pyarrow's table Python must decide, with the early ones
    for _ in range(retries.left + 1):
        parsed = np.setdiff1d(records, early, assume_unique=True) if early else records
        late.clear()
        if early:  # pyarrow must not see them: left blank in a copy of the chunk
            blanked = bytearray(chunk)
            for i in early:
                blanked[int(starts[i]):int(stops[i])] = b" " * int(stops[i] - starts[i])
            chunk_for_arrow = bytes(blanked)
        else:
            chunk_for_arrow = chunk
        try:
            frame = _arrow_frame(chunk_for_arrow, len(parsed), string_fields,
                                 lambda rows: late.extend(rows) is None)
        except _Refused as exc:  # a line pyarrow refused: Python's, the rest pyarrow's
            refused = int(parsed[exc.row])
            if len(by_python([refused]).frame):  # Python takes it: it reads them all
                return all_by_python()
            early = sorted([*early, refused])
            continue
        break
    else:
        retries.left = 0
        return all_by_python()
    retries.left = ARROW_RETRIES
    if frame is None:  # refused, or lists, timestamps: Python keeps the JSON value
        return all_by_python()
    if early or late:
        decided = by_python(sorted([*early, *parsed[late].tolist()]))
        if len(decided.frame):  # Python takes a line the checks doubted: it reads them all
            return all_by_python()
        rejected += decided.rejected
        parsed = np.delete(parsed, late)
    return Batch(frame, (parsed + first_line).astype(np.int64), rejected)


def _early_suspects(chunk: bytes, starts: np.ndarray, stops: np.ndarray, records: np.ndarray,
                    limits: Limits) -> list[int]:
    """Lines (by index) that pyarrow must not parse: bad UTF-8, which it does not check
    inside strings, and more colons than the keys a record may have, which would make it
    build a column per key for every record of the batch. The whole chunk's UTF-8 is
    checked at once; only when it fails are its lines checked one by one."""
    import numpy as np

    suspects: list[int] = []
    if not _utf8(chunk):
        first = np.searchsorted(stops, _first_bad_byte(chunk))  # the line of the first one
        for i in records[records >= first].tolist():
            try:
                chunk[int(starts[i]):int(stops[i])].decode("utf-8")
            except UnicodeDecodeError:
                suspects.append(i)
    keys = limits.keys
    for i in records[(stops - starts)[records] > _MIN_KEY_BYTES * keys].tolist():
        if chunk.count(b":", int(starts[i]), int(stops[i])) > keys and i not in suspects:
            suspects.append(i)
    # pyarrow skips a byte order mark that opens its input; Python's JSON does not.
    if chunk.startswith(_BOM) and len(records) and records[0] == 0 and 0 not in suspects:
        suspects.append(0)
    return sorted(suspects)


def _utf8(chunk: bytes) -> bool:
    """Whether ``chunk`` is valid UTF-8, checked by Arrow without decoding it."""
    if chunk.isascii():
        return True
    import numpy as np
    import pyarrow as pa

    text = pa.LargeStringArray.from_buffers(
        1, pa.py_buffer(np.array([0, len(chunk)], dtype=np.int64)), pa.py_buffer(chunk))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _first_bad_byte(chunk: bytes) -> int:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        return int(exc.start)
    return len(chunk)


def _late_suspects(table: Any) -> list[int]:
    """Rows of a parsed (flattened) table that Python must decide: a NaN or infinite
    double (``NaN``, ``Infinity``, or a number too large for a double) and two values
    under one flattened name."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = set(collisions(table))
    for column in table.columns:
        if pa.types.is_floating(column.type) and column.null_count < len(column):
            bad = pc.fill_null(pc.invert(pc.is_finite(column)), False)
            if pc.any(bad).as_py():
                rows.update(np.flatnonzero(bad.to_numpy(zero_copy_only=False)).tolist())
    return sorted(rows)


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


def _arrow_table(chunk: bytes, expected_rows: int, string_fields: frozenset[str]) -> Any:
    """The lines parsed by pyarrow as a table (not flattened), or None where Python must
    decide (pyarrow refuses them, or finds another number of records)."""
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
    for block_size in dict.fromkeys((min(PARSE_BLOCK, len(chunk) + 1), len(chunk) + 1)):
        try:
            table = pj.read_json(io.BytesIO(chunk), parse_options=options,
                                 read_options=pj.ReadOptions(block_size=block_size))
        except (pa.ArrowInvalid, UnicodeDecodeError, ValueError) as exc:
            refused = _ROW.search(str(exc))
            if block_size > len(chunk) and refused and int(refused[1]) < expected_rows:
                raise _Refused(int(refused[1])) from None  # a row of the one block: a line
            continue
        return table if table.num_rows == expected_rows else None
    return None


class _Refused(Exception):
    """pyarrow refused a chunk parsed as one block at a row (0-based, blank lines not
    counted): the line to leave to Python before trying the rest again."""

    def __init__(self, row: int) -> None:
        self.row = row
        super().__init__(row)


class _Retries:
    """How many refused lines a batch may leave to Python before Python reads it all:
    none after a batch that needed more (a dump of many such lines would pay for each
    retry and then the whole batch anyway), all again after one pyarrow read at once."""

    def __init__(self) -> None:
        self.left = ARROW_RETRIES


def _arrow_frame(chunk: bytes, expected_rows: int, string_fields: frozenset[str],
                 decide: Callable[[list[int]], bool] | None = None) -> pd.DataFrame | None:
    """A flattened DataFrame from pyarrow, or None where Python must decide.

    Rows pyarrow would read wrongly (see :func:`_late_suspects`) are left out when
    ``decide`` takes them (Python rejects them); without it, or when it does not, the
    result is None.
    """
    import numpy as np

    table = _arrow_table(chunk, expected_rows, string_fields)
    if table is None:
        return None
    table = flattened(table)
    late = _late_suspects(table)
    if late:
        if decide is None or not decide(late):
            return None
        keep = np.ones(table.num_rows, dtype=bool)
        keep[late] = False
        table = table.filter(keep)
    return frame_of(table)


register(Reader("jsonl", (".jsonl", ".ndjson"), read, batches=read_batches, splittable=True))
