"""CSV with a header row: header on line 1, each record keeps its first physical line.

Every CSV value is text, so the normaliser converts declared fields to their
declared types (``"12"`` → 12 for an integer field); an empty cell is absent.

Batches of well-formed lines (every field plain or wholly quoted, one record per line,
valid UTF-8, the header's width) are parsed by pyarrow. From the first batch that is
not, Python's csv module reads the rest of the file, so a record spanning lines, a
stray quote or a row of the wrong width is read exactly as it always was.

What a crafted file may cost is bounded by the scan's :class:`~audit.limits.Limits`. A
record longer than ``record-bytes``, a field longer than ``field-bytes`` or a row with more
cells than the header is rejected without being built: :class:`_Scan` reads its quotes
as Python's csv would, so reading goes on after the line that ends the record, never
inside one of its values. A header with more than ``columns`` names (or itself past a
limit) leaves no row readable, and every row is rejected with that reason: the records
counted are still the file's, so ``--max-rejected`` weighs the loss truly. A batch holds
at most ``chunk_rows`` records and about :data:`BATCH_BYTES` of input, and the reader
holds besides about one record at its limit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, NoReturn

from audit.limits import DEFAULT_LIMITS, Limits, size_text
from audit.readers import (
    Batch,
    RawRecord,
    Reader,
    UnusableFile,
    batch_of,
    has_surrogates,
    register,
    reject,
    text_stream,
)
from audit.readers.columnar import frame_of

if TYPE_CHECKING:
    import numpy as np

_REST_UNREAD = " (a quoted value is never closed: the lines after it are part of it)"
READ_BLOCK = 1 << 24  # bytes read at a time; batches are cut at line ends
#: Input bytes of one batch at most (more only for a single row up to the limit): rows
#: of any width keep a batch's memory about flat.
BATCH_BYTES = 1 << 25
_PIECE = 1 << 20  # characters read at a time of a record that spans lines, at most
#: Lines of a record csv is given one at a time; the rest of a longer one comes at once.
_LINE_BY_LINE = 128
#: A line pyarrow reads as Python would: fields plain (no quote) or wholly quoted.
_FIELD = r'(?:[^",\r\n]*|"(?:[^"\r\n]|"")*")'
WELL_FORMED = rf"^{_FIELD}(?:,{_FIELD})*\r?\n?$"
_CSV_FIELD_LIMIT = "field larger than field limit"  # Python's csv, on its own limit


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield one record per data row; a row of the wrong width is rejected."""
    return _records(_Lines(stream, limits))


def _records(source: _Lines, header: list[str] | None = None, first_line: int = 1
             ) -> Iterator[RawRecord]:
    """The records of ``source``, whose first line is ``first_line`` of the file; with
    ``header`` (already read), every row is a record.

    The physical lines of the record being read are kept until it is done (csv reads
    none ahead, and a record is bounded before csv sees it), so a rejected row is
    identified by its text, line breaks inside it included, and an accepted one costs a
    list cleared.
    """
    limits = source.limits
    if header is not None:
        source.header_read(len(header))

    def rejected(line: int, what: str, taken: list[str]) -> RawRecord:
        return reject(line, what, "".join(taken).rstrip("\r\n"))

    rows = csv.reader(source, strict=True)
    offset = first_line - 1
    start = 1
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except _Unread as unread:  # past a limit: read to its end, never built
            rows = csv.reader(source, strict=True)  # the lines it read from have ended
            line, start = start + offset, source.lines + 1
            if header is None and unread.whole:  # no column is known: no row can be read
                source.refuse = unread.what
            else:
                yield RawRecord(line, error=unread.what, digest=unread.digest)
            continue
        except csv.Error as exc:
            # The reader goes on after the record it refused; only a quote left open runs
            # to the end of the file, which then holds nothing more to read.
            if str(exc).startswith(_CSV_FIELD_LIMIT):  # lowered by other code: csv
                # stopped inside a value, so read on to the end of the record first
                yield RawRecord(start + offset, error=f"invalid CSV: {exc}",
                                digest=source.skip())
            else:
                rest = _REST_UNREAD if source.lines > start else ""
                yield rejected(start + offset, f"invalid CSV: {exc}{rest}", source.take())
            start = source.lines + 1
            continue
        line, start = start + offset, source.lines + 1
        longest = source.size > limits.field_bytes and _longer(row, limits.field_bytes)
        taken = source.take()
        if not row:
            continue
        if header is None:
            if longest:
                source.refuse = _header_field_over(limits)
                continue
            if any(has_surrogates(c) for c in row):
                yield rejected(line, "invalid UTF-8 in the header", taken)
                return
            repeated = sorted({name for name in row if row.count(name) > 1})
            if repeated:  # one value per name would be silently dropped from every row
                raise UnusableFile(f"duplicate column {repeated[0]!r} in the header", line)
            header = row
            source.header_read(len(header))
        elif len(row) != len(header):
            yield rejected(line, f"expected {len(header)} columns, found {len(row)}", taken)
        elif longest:
            yield rejected(line, _field_over(limits), taken)
        elif any(has_surrogates(c) for c in row):
            yield rejected(line, "invalid UTF-8", taken)
        else:
            yield RawRecord(line, {k: v for k, v in zip(header, row, strict=True) if v != ""})


def read_batches(stream: IO[bytes], chunk_rows: int, string_fields: frozenset[str],
                 first_line: int = 1, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Batches of ``chunk_rows`` lines, parsed by pyarrow while the lines are well formed
    (see the module's note); every value stays text, as in Python's path."""
    data = stream.read(READ_BLOCK)
    end = data.find(b"\n")
    header = _plain_header(data[:end + 1], limits) if end >= 0 else None
    if header is None:  # a header Python must judge (or no line break at all)
        yield from _python_batches(_joined(data, stream), chunk_rows, limits)
        return
    data, line, more = data[end + 1:], 2, True
    newlines = data.count(b"\n")
    while True:
        # Whole lines up to chunk_rows and about BATCH_BYTES, or one line up to the limit.
        while more and newlines < chunk_rows and (
                len(data) < BATCH_BYTES or (not newlines and len(data) <= limits.record_bytes)):
            block = stream.read(READ_BLOCK)
            more = bool(block)
            data += block
            newlines += block.count(b"\n")
        if not data:
            return
        ends = _line_ends(data, chunk_rows)
        if more and not len(ends):  # a line longer than a row may be: Python rejects it
            yield from _python_batches(_joined(data, stream), chunk_rows, limits, header, line)
            return
        cut = int(ends[-1]) + 1 if more or len(ends) == chunk_rows else len(data)
        batch = _arrow_batch(data[:cut], ends, header, line, limits)
        if batch is None:  # from here on Python reads, records spanning lines included
            yield from _python_batches(_joined(data, stream), chunk_rows, limits, header, line)
            return
        if batch.records:
            yield batch
        line += len(ends) + (data[cut - 1:cut] != b"\n")  # a last line without newline
        data, newlines = data[cut:], newlines - len(ends)


def _line_ends(data: bytes, most: int) -> np.ndarray:
    """The offsets of the first ``most`` newlines of ``data``, found a MiB at a time: a
    block of bare newlines costs what its rows do, not 8 bytes for each newline in it."""
    import numpy as np

    view = np.frombuffer(data, dtype=np.uint8)
    found: list[np.ndarray] = []
    total = 0
    for at in range(0, len(view), 1 << 20):
        ends = np.flatnonzero(view[at:at + (1 << 20)] == 10)[: most - total] + at
        found.append(ends)
        total += len(ends)
        if total >= most:
            break
    return np.concatenate(found) if found else np.empty(0, dtype=np.intp)


def _plain_header(raw: bytes, limits: Limits) -> list[str] | None:
    """The header line's names, when pyarrow can take the rows under it: one line of
    valid UTF-8 within the limits, distinct names that are not empty, no more than a
    record may have keys; else None (Python reads the file and judges it). Its commas
    are counted before anything is parsed."""
    if raw.count(b",") >= limits.columns or len(raw) > limits.record_bytes:
        return None
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
    if _longer(rows[0], limits.field_bytes) or len(rows[0]) > limits.keys:
        return None  # (a row of more values than keys is rejected by batch_of)
    return rows[0]


def _arrow_batch(chunk: bytes, ends: np.ndarray, header: list[str], first_line: int,
                 limits: Limits) -> Batch | None:
    """The records of whole lines (newlines at ``ends``), parsed by pyarrow; None when a
    line is not well formed or may be past a limit, so Python must read (and judge) from
    here."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    if chunk.count(b"\r") != chunk.count(b"\r\n"):  # a lone CR ends a line for Python
        return None
    starts = np.concatenate(([0], ends + 1))
    if starts[-1] >= len(chunk):
        starts = starts[:-1]
    stops = np.append(ends, len(chunk))[: len(starts)]
    width = stops - starts
    longest = int(width.max()) if len(width) else 0
    if longest > limits.record_bytes:
        return None
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
    # A block holds the longest line: pyarrow refuses a row straddling two blocks.
    read_options = pcsv.ReadOptions(column_names=header, block_size=max(1 << 20, longest + 2))
    try:
        table = pcsv.read_csv(
            io.BytesIO(chunk), read_options=read_options,
            parse_options=pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=True),
            convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError, ValueError):  # width or UTF-8: Python says
        return None
    if longest > limits.field_bytes and any(
            (pc.max(pc.binary_length(column)).as_py() or 0) > limits.field_bytes
            for column in table.columns):
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


def _python_batches(stream: IO[bytes], chunk_rows: int, limits: Limits,
                    header: list[str] | None = None, first_line: int = 1) -> Iterator[Batch]:
    """Records read by Python's csv, at most ``chunk_rows`` and about BATCH_BYTES of input
    a batch."""
    source = _Lines(stream, limits)
    records = _records(source, header, first_line)
    while True:
        mark, batch = source.consumed, []
        for record in records:
            batch.append(record)
            if len(batch) >= chunk_rows or source.consumed - mark >= BATCH_BYTES:
                break
        if not batch:
            return
        yield batch_of(batch, limits)


class _Unread(Exception):
    """A record past a limit, read to its end but not built; raised through csv's reader
    by :class:`_Lines`. ``whole``: the header, whose reason stands for every row."""

    def __init__(self, what: str, digest: str, whole: bool) -> None:
        super().__init__(what)
        self.what, self.digest, self.whole = what, digest, whole


class _Lines:
    """The physical lines of a CSV file for Python's csv reader, each record bounded
    before csv builds anything of it.

    A record's first line is read at most ``record-bytes`` far, so none is held whole
    past the limit; its commas bound its cells, and only a record with ``columns`` commas
    or more is counted exactly (by :class:`_Scan`). When csv asks for more lines of a
    record (a quoted value spans them) than :data:`_LINE_BY_LINE`, the rest is read in
    chunks up to its end, found by a :class:`_Scan`, and given to csv at once: a value of
    millions of short lines costs no line of Python each. A record past a limit is read
    to its end in chunks, hashed as it goes, and raised as :class:`_Unread`: csv then
    starts afresh at the next record.
    """

    def __init__(self, stream: IO[bytes], limits: Limits) -> None:
        _allow_fields(limits.record_bytes + 2)  # see _allow_fields
        self._text = text_stream(stream)
        self.limits = limits
        self.lines = 0  # physical lines begun so far
        self.consumed = self.size = 0  # bytes of the records read so far, of this one
        #: most cells a record may have: the header's count once it is read
        self._width = limits.columns
        self._header = True
        #: once set, every record is rejected with this reason unread
        self.refuse: str | None = None
        #: characters read at a time of a record that spans lines: no more than a limit
        self._piece = min(_PIECE, max(limits.record_bytes, 1 << 12))
        #: read past the end of a record, to be read from _at on ("" once all is read)
        self._back, self._at = "", 0
        self._from_back = False  # what was read last came from _back
        self._new_record()

    def _new_record(self) -> None:
        self.consumed += self.size
        self._taken: list[str] = []
        self.size = 0
        self._first = self.lines + 1
        self._scan: _Scan | None = None
        self._commas = self._counted = 0

    def header_read(self, columns: int) -> None:
        """The header is known: a row has at most its number of cells."""
        self._header, self._width = False, columns

    def take(self) -> list[str]:
        """The text of the record csv has just read (or refused); the next one starts."""
        taken = self._taken
        self.consumed += self.size
        self._taken, self.size, self._first, self._scan = [], 0, self.lines + 1, None
        self._commas = self._counted = 0  # (of its lines, counted when it grows long)
        return taken

    def __iter__(self) -> Iterator[str]:
        """Text for a csv reader: a record's lines, and past the first _LINE_BY_LINE (if
        csv asks for more) the rest of the record at once. Raising :class:`_Unread` ends
        it: the reader of the next record takes a new iterator."""
        limits = self.limits
        record_bytes = limits.record_bytes
        readline = self._text.readline
        cap = record_bytes + 2  # a line break besides
        # A record of fewer bytes has fewer commas, so no more cells than the limit allows.
        checked = min(record_bytes, limits.columns)
        taken: list[str] | None = None
        refuse = None
        while True:  # (per line: the least work, kept in locals)
            if self._taken is not taken:  # a record begins: take() gave its lines away
                taken, refuse = self._taken, self.refuse
            elif len(taken) >= _LINE_BY_LINE or self._scan is not None:
                # csv reads on, a quoted value spanning many lines: the rest of the record
                rest = self._rest()
                if rest is not None:  # (None if the scan ended it: csv is the judge)
                    if not rest:
                        return
                    yield rest
                    continue
            piece = "" if self._back else readline(cap)
            if piece[-1:] != "\n":  # not a whole line from the file, as nearly all are
                piece = self._line(cap, piece)
                if not piece:
                    return
            self.lines += 1  # (a line before ended, or its record was read to its end)
            taken.append(piece)
            self.size += len(piece) if piece.isascii() else _nbytes(piece)
            if self.size >= checked or refuse is not None:
                self._check(piece)  # past a limit, maybe
            yield piece

    def _check(self, piece: str) -> None:
        """Raise :class:`_Unread` if the record (its last line so far ``piece``) is to be
        rejected unread: every record is, past the header's limits; or one past
        ``record-bytes``; or one with more cells than it may have, counted exactly once
        its commas are as many."""
        limits = self.limits
        taken = self._taken
        if self.refuse is not None and len(taken) == 1 and not _blank(piece):
            self._unread(self.refuse)
        if self._scan is None:
            self._commas += sum(text.count(",") for text in taken[self._counted:])
            self._counted = len(taken)
            if self._commas >= limits.columns:
                self._scan = self._scanned(limits.field_bytes)
        if self.size - _break(piece) > limits.record_bytes:
            self._unread()
        if self._scan is not None and self._scan.count > self._width:
            self._unread()

    def _rest(self) -> str | None:
        """The rest of the record csv is reading, up to the line break that ends it; ""
        at the end of the file (csv then says the quote is left open)."""
        limits = self.limits
        scan = self._scan
        if scan is None:
            scan = self._scan = self._scanned(limits.field_bytes)
        if scan.done:
            return None
        first = reads = len(self._taken)
        while not scan.done:
            chunk = self._more(reads)
            reads += 1
            if not chunk:
                break
            end = scan.feed(chunk)
            if end >= 0:
                chunk = self._ended(chunk, end)
            self.size += self._count(chunk, self._taken[-1])
            self._taken.append(chunk)
            if self.size - (_break(chunk) if scan.done else 0) > limits.record_bytes:
                self._unread()
            if scan.count > self._width:
                self._unread()
        return "".join(self._taken[first:])

    def _line(self, cap: int, piece: str) -> str:
        """The next line, or its first ``cap`` characters: ``piece`` (its start, from the
        file) or what was read past the end of a record first."""
        if self._back:
            piece = self._chunk(cap, line=True)
        while piece and piece[-1] not in "\r\n" and len(piece) < cap:  # the line goes on
            more = self._chunk(cap - len(piece), line=True)
            if not more:
                break
            piece += more
        if piece[-1:] == "\r":  # a LF after it ends the same line (even when cut at cap)
            after = self._chunk(1)
            if after == "\n":
                piece += after
            elif after:
                self._unget(after)
        return piece

    def _chunk(self, size: int, line: bool = False) -> str:
        """Up to ``size`` characters (up to a line break with ``line``), from what was read
        past a record first."""
        back, at = self._back, self._at
        self._from_back = bool(back)
        if not back:
            return self._text.readline(size) if line else self._text.read(size)
        stop = min(len(back), at + size)
        if line:
            found = _BREAK.search(back, at, stop)
            stop = found.end() if found else stop
        self._back, self._at = (back, stop) if stop < len(back) else ("", 0)
        return back[at:stop]

    def _unget(self, text: str) -> None:
        """Read ``text``, the end of what was read last, again."""
        if self._from_back and self._back:  # a step back in what is left of it
            self._at -= len(text)
        else:  # nothing was left to read before it
            self._back, self._at = text, 0

    def _more(self, reads: int) -> str:
        """More of a record that spans lines, ``reads`` read of it: a line at a time for
        its first lines, then chunks that double up to the limit's size, so neither a
        value of a few lines nor one of a million reads much past its end."""
        if reads < _LINE_BY_LINE:
            return self._chunk(self._piece, line=True)
        return self._chunk(min(self._piece, 256 << min(reads - _LINE_BY_LINE, 24)))

    def _ended(self, chunk: str, end: int) -> str:
        """The part of ``chunk`` up to the end of its record (at ``end``); the rest is
        read again."""
        head, rest = chunk[:end], chunk[end:]
        if not rest and head.endswith("\r"):  # a LF may follow, not read yet
            after = self._chunk(1)
            if after == "\n":
                head += after
            else:
                rest = after
        if rest:
            self._unget(rest)
        return head

    def _count(self, text: str, before: str) -> int:
        """Count the lines begun in ``text``, read on after ``before`` (what was read last
        of the record, "" if none); its bytes."""
        body = text[1:] if before[-1:] == "\r" and text[:1] == "\n" else text  # CR's LF
        self.lines += (body.count("\n") + body.count("\r") - body.count("\r\n")
                       + (before[-1:] in ("", "\r", "\n")) - (text[-1:] in ("\r", "\n")))
        return len(text) if text.isascii() else _nbytes(text)

    def _scanned(self, field_limit: int) -> _Scan:
        """A scan of the record's text read so far (no more than a limit's worth)."""
        scan = _Scan(field_limit)
        scan.feed(self._taken[0] if len(self._taken) == 1 else "".join(self._taken))
        return scan

    def skip(self) -> str:
        """Read to the end of the record csv was reading; the digest of its content."""
        digest, _ = self._to_end(self._scanned(self.limits.field_bytes))
        self._new_record()
        return digest

    def _to_end(self, scan: _Scan) -> tuple[str, bool]:
        """Read the rest of the record (``scan`` has read its text so far) in chunks: the
        digest of its content and whether a quoted value is left open at the end of the
        file."""
        digest = _Digest()
        for text in self._taken:
            digest.update(text)
        before = self._taken[-1] if self._taken else ""
        reads, self._taken = len(self._taken), []
        while not scan.done:
            chunk = self._more(reads)
            reads += 1
            if not chunk:
                return digest.hexdigest(), not scan.finish()
            end = scan.feed(chunk)
            if end >= 0:
                chunk = self._ended(chunk, end)
            self.consumed += self._count(chunk, before)
            digest.update(chunk)
            before = chunk
        return digest.hexdigest(), False

    def _unread(self, refuse: str | None = None) -> NoReturn:
        """Read the record being read to its end and raise it as :class:`_Unread`."""
        limits = self.limits
        if refuse is not None:  # its cells do not matter: only where it ends
            scan = self._scan or self._scanned(sys.maxsize)
        else:
            scan = self._scan or self._scanned(limits.field_bytes)
        digest, open_quote = self._to_end(scan)
        header = self._header and refuse is None
        broken = open_quote or scan.error  # csv's own errors, as csv words them
        what = refuse or self._reason(scan, open_quote, header)
        self._new_record()
        raise _Unread(what, digest, header and not broken)

    def _reason(self, scan: _Scan, open_quote: bool, header: bool) -> str:
        """Why a record is unread: csv's error if it has one, else its width, else the
        limit it is past. The header's reasons stand for every row."""
        limits = self.limits
        rest = _REST_UNREAD if self.lines > self._first else ""
        if open_quote:
            return f"invalid CSV: unexpected end of data{rest}"
        if scan.error:
            return f"invalid CSV: ',' expected after '\"'{rest}"
        if header and scan.fields > limits.columns:
            return (f"the header has {scan.fields:,} columns, more than "
                    f"{size_text(limits.columns)} (--limit columns)")
        if not header and scan.fields != self._width:
            return f"expected {self._width} columns, found {scan.fields}"
        if scan.over:
            return _header_field_over(limits) if header else _field_over(limits)
        return (f"the header is longer than {size_text(limits.record_bytes)} "
                "(--limit record-bytes)" if header
                else f"record longer than {size_text(limits.record_bytes)} (--limit record-bytes)")


#: Whole cells, each with its comma: plain, or quoted with no quote inside.
_CELL_TEXT = r'(?>"[^"]*"|[^",\r\n][^,\r\n]*)?,'
_CELL = re.compile(_CELL_TEXT)
_CELLS = re.compile(f"(?:{_CELL_TEXT})++")  # possessive: nothing kept to backtrack
_PLAIN_END = re.compile(r',"|[\r\n]')
_BREAK = re.compile(r"\r\n?|\n")
_START_RECORD, _START_FIELD, _IN_FIELD, _IN_QUOTED, _QUOTE_IN_QUOTED, _ERROR, _DONE = range(7)


class _Scan:
    """Python's csv (strict, default dialect) over one record, without building it: where
    the record ends, how many cells it has, whether one is longer than ``field_limit``
    bytes. It is fed the record's text in order, in pieces of any size; a record that
    ends with a CR ending a piece may have its LF in the next, for the caller to take.

    Its states are csv's own. After a quote that closes a value, anything but a quote,
    a comma or a line break is csv's error "',' expected after '\"'", and csv reads on at
    the next line: so does this. Runs of plain cells are counted with ``str.count``,
    runs of simple cells (quoted or not) by a regular expression, so a million cells cost
    a fraction of a second; only a value with a doubled quote is read a quote at a time.
    """

    __slots__ = ("_field", "_limit", "_window", "error", "fields", "over", "state")

    def __init__(self, field_limit: int) -> None:
        self.state = _START_RECORD
        self.fields = 0  # cells ended
        self._field = 0  # bytes of the cell being read
        self.over = False  # a cell longer than the limit
        self.error = False  # csv's error after a closing quote
        self._limit = field_limit
        self._window = max(field_limit // 4, 1)  # characters of fewer bytes than the limit

    @property
    def done(self) -> bool:
        return self.state == _DONE

    @property
    def count(self) -> int:
        """Cells so far, the one being read included."""
        return self.fields + (self.state not in (_START_RECORD, _ERROR, _DONE))

    def feed(self, text: str) -> int:
        """Read the next text of the record (lines, or part of one): the index just past
        the line break that ends the record in it, or -1 when it goes on."""
        state, i, n = self.state, 0, len(text)
        while i < n:
            if state == _IN_QUOTED:  # line breaks included
                j = text.find('"', i)
                self._grow(text, i, n if j < 0 else j)
                i, state = (n, state) if j < 0 else (j + 1, _QUOTE_IN_QUOTED)
                continue
            if state == _ERROR:  # csv reads on at the next line
                found = _BREAK.search(text, i)
                if found is None:
                    break
                self.state = _DONE
                return found.end()
            c = text[i]
            if c in "\r\n":  # a line break out of quotes ends the record
                if state != _START_RECORD:
                    self._end()
                self.state = _DONE
                return i + (2 if text.startswith("\r\n", i) else 1)
            if state == _QUOTE_IN_QUOTED:
                if c == '"':  # a doubled quote is one quote of the value
                    self._grow(text, i, i + 1)
                    state, i = _IN_QUOTED, i + 1
                elif c == ",":
                    self._end()
                    state, i = _START_FIELD, i + 1
                else:  # csv's error, "',' expected after '\"'"
                    state, self.error = _ERROR, True
            elif state != _IN_FIELD and c == '"':
                # Whole cells, quoted ones without a doubled quote, matched and counted in
                # C; a window at a time, so none of them can be over the limit.
                run = _CELLS.match(text, i, min(n, i + self._window))
                if run is None:
                    state, i = _IN_QUOTED, i + 1
                else:
                    self.fields += _CELL.subn("", run.group())[1]
                    state, i = _START_FIELD, run.end()
            else:  # plain cells up to the comma before a quoted value, or a line break
                found = _PLAIN_END.search(text, i)
                stop = n if found is None else found.start() + (found.group() == ',"')
                state, i = self._plain(text, i, stop), stop
        self.state = state
        return -1

    def finish(self) -> bool:
        """The end of the file; False when a quoted value is left open (csv's error)."""
        if self.state == _IN_QUOTED:
            return False
        if self.state not in (_START_RECORD, _ERROR, _DONE):
            self._end()
        self.state = _DONE
        return True

    def _plain(self, piece: str, i: int, stop: int) -> int:
        """Cells without quotes in ``piece[i:stop]``; the state after them."""
        first = piece.find(",", i, stop)
        if first < 0:
            self._grow(piece, i, stop)
            return _IN_FIELD
        self._grow(piece, i, first)
        self._end()
        last = piece.rfind(",", first, stop)
        self.fields += piece.count(",", first + 1, last + 1)  # the cells between commas
        if not self.over and 4 * (last - first - 1) > self._limit:  # a long one among them?
            self.over = _longest_plain(piece[first + 1:last]) > self._limit
        self._grow(piece, last + 1, stop)
        return _IN_FIELD if last + 1 < stop else _START_FIELD

    def _grow(self, piece: str, start: int, stop: int) -> None:
        if not self.over and stop > start:
            self._field += _nbytes(piece[start:stop])
            self.over = self._field > self._limit

    def _end(self) -> None:
        self.fields += 1
        self._field = 0


class _Digest:
    """:func:`~audit.readers.content_digest` of a record read in pieces, less the line
    breaks it ends with, as a record rejected whole is hashed; in constant memory."""

    def __init__(self) -> None:
        self._all = hashlib.blake2b(digest_size=16)
        self._content = self._all.copy()  # up to the last character that is no line break

    def update(self, text: str) -> None:
        body = text.rstrip("\r\n")  # what follows may make its line breaks content
        if body:
            self._all.update(body.encode("utf-8", "surrogatepass"))
            self._content = self._all.copy()
        if len(body) < len(text):
            self._all.update(text[len(body):].encode("utf-8", "surrogatepass"))

    def hexdigest(self) -> str:
        return self._content.hexdigest()


_FIELD_LIMIT_LOCK = threading.Lock()


def _allow_fields(chars: int) -> None:
    """Let Python's csv take a cell of ``chars`` characters.

    Its own limit (128 KiB by default) would stop inside a long value, and csv would
    read on from there, each line of the value a record. :class:`_Lines` bounds every
    record before csv sees it, so csv's limit need only not cut one. The limit is the
    process's: it is only ever raised, so a scan with a larger limit beside this one is
    never cut short (and if other code lowers it, the record is read to its end).
    """
    with _FIELD_LIMIT_LOCK:
        if csv.field_size_limit() < chars:
            csv.field_size_limit(min(chars, sys.maxsize))


def _longest_plain(text: str) -> int:
    """Bytes of the longest cell in a run of cells without quotes."""
    import numpy as np

    raw = np.frombuffer(text.encode("utf-8", "surrogateescape"), dtype=np.uint8)
    bounds = np.concatenate(([-1], np.flatnonzero(raw == 44), [len(raw)]))
    return int(np.diff(bounds).max()) - 1


def _longer(row: list[str], limit: int) -> bool:
    """Whether a cell has more than ``limit`` bytes (its characters bound them)."""
    return any(len(cell) > limit or (4 * len(cell) > limit and _nbytes(cell) > limit)
               for cell in row)


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def _break(piece: str) -> int:
    """The length of the line break that ends ``piece`` (0 when it has none)."""
    if piece.endswith("\r\n"):
        return 2
    return 1 if piece.endswith(("\n", "\r")) else 0


def _blank(piece: str) -> bool:
    return piece in ("\n", "\r\n", "\r")


def _field_over(limits: Limits) -> str:
    return f"field longer than {size_text(limits.field_bytes)} (--limit field-bytes)"


def _header_field_over(limits: Limits) -> str:
    return (f"a column name in the header is longer than {size_text(limits.field_bytes)} "
            "(--limit field-bytes)")


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
