"""Readers: turn input files into batches of flattened records with their line numbers.

Each reader yields :class:`RawRecord` values lazily, so a dump of any size is
read in constant memory; :func:`read_batches` groups them into
:class:`Batch` frames of at most ``chunk_rows`` records. A reader may also have
a vectorised ``read_batches`` of its own (JSON Lines through pyarrow), which
must give the same frames. A record that cannot be parsed comes with an
``error`` instead of data: the engine reports it as ``input/malformed-record``
and goes on. A file that cannot be opened at all raises :class:`InputError`.

A rejected record also carries a digest of its content (:func:`content_digest`), so its
finding keeps its identity when the lines before it change; the raw bytes are not kept.

Every input is untrusted: a compressed file stops being read past the scan's
:class:`~audit.limits.Limits` on decompression (the rest is one rejected record, see
:class:`_Decompressed`), and :func:`batch_of` rejects a record whose flattened keys
outnumber ``limits.keys`` before any rule sees it.

A record that gives a key more than once (real Windows Census events repeat ``cV``), or
two values under one dotted path once flattened (``"a.b"`` beside ``"a": {"b": ...}``),
is kept: its row holds the last value of each path, and the batch's :class:`Repeats`
note the repeated keys and the other values, so that every value is audited.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from audit.errors import InputError
from audit.limits import BATCH_CELLS, DEFAULT_LIMITS, MIB, Limits, size_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.normalize import Flat


def content_digest(content: bytes | str) -> str:
    """An unkeyed digest of a record's content: what makes a rejected record itself,
    wherever it sits. It never reaches a report (the engine keys it first).

    Text is encoded with ``surrogatepass``, so text read with ``surrogateescape`` (bad
    bytes) or a lone ``\\u`` surrogate from JSON still has a digest.
    """
    raw = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


class Rejection(NamedTuple):
    """A record that cannot be audited: where it is, what is wrong, and the digest of
    its content (its identity: the line moves when earlier lines change)."""

    line: int
    what: str
    digest: str


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: its 1-based line (or record index) and data, or an error
    with the digest of the record's content (see :func:`reject`)."""

    line: int
    data: dict[str, Any] | None = None
    error: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class EntrySpan:
    """The records one entry of a capture gave (HAR: a request of ``log.entries``): its
    1-based entry number, its URL, the line (record index) of its first record and how
    many it gave. A record index alone does not say which request a record came from,
    nor where in its body; a reader that has entries (``Reader.located``) appends one
    span per entry with records to the ``spans`` list it is given."""

    entry: int
    url: str
    first: int
    records: int


def reject(line: int, what: str, content: bytes | str) -> RawRecord:
    """A record that cannot be audited, identified by its content (only the digest is kept)."""
    return RawRecord(line, error=what, digest=content_digest(content))


class RepeatedKey(NamedTuple):
    """A key a record gives more than once (or a dotted path two values flatten to): the
    record's row in its batch's frame, the dotted path, how many values it was given and
    their canonical JSON text, in document order (what its finding names and
    fingerprints)."""

    row: int
    field: str
    count: int
    values: str


class Variant(NamedTuple):
    """A value of a repeated path besides the one the record's row keeps: the row, the
    dotted path and the value (the record is audited once more with it)."""

    row: int
    field: str
    value: Any


@dataclass(frozen=True, slots=True)
class Repeats:
    """The repeated keys of a batch's records and their other values. Only a batch
    that has some carries one: the common case costs nothing."""

    keys: tuple[RepeatedKey, ...]
    variants: tuple[Variant, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """Up to ``chunk_rows`` records: usable ones flattened into a frame, the rest rejected.

    ``lines[i]`` is the line of the frame's i-th row; rejected records keep theirs.
    ``repeats`` (rows of the frame) is None unless a record repeats a key.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    rejected: list[Rejection]
    repeats: Repeats | None = None

    @property
    def records(self) -> int:
        return len(self.frame) + len(self.rejected)


BatchFunc = Callable[..., Iterator[Batch]]


@dataclass(frozen=True, slots=True)
class Part:
    """A byte range of a file that starts and ends at line boundaries, with its first line."""

    start: int
    stop: int
    first_line: int


@dataclass(frozen=True, slots=True)
class Reader:
    """A registered input format. ``typed`` is False where every value is text (CSV).

    ``batches`` optionally reads whole batches at once; it receives the names of
    the fields that rule packs declare as strings, so a typed reader does not
    turn them into anything else (pyarrow would parse ISO times into timestamps).
    Both receive the scan's :class:`~audit.limits.Limits` as the keyword ``limits``.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[IO[bytes]], Iterator[RawRecord]]
    typed: bool = True
    batches: BatchFunc | None = None
    splittable: bool = False  # line-based: a byte range cut at line ends reads on its own
    #: Cuts a file into about N parts of the format's own (Parquet: row groups), each
    #: ``Part(first group, stop group, first row)``, read by ``batches(..., part=)``.
    cut: Callable[[Path, int], list[Part] | None] | None = None
    #: ``read`` takes ``spans``, a list it appends an :class:`EntrySpan` to per entry
    #: (HAR: records are numbered across requests, the spans say which request)
    located: bool = False


READERS: dict[str, Reader] = {}


def register(reader: Reader) -> Reader:
    """Add a reader to the registry under its name."""
    READERS[reader.name] = reader
    return reader


def reader_for(path: Path) -> tuple[Reader, bool]:
    """The reader for a file by its suffix, and whether it is gzip-compressed."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    for reader in READERS.values():
        if suffix in reader.suffixes:
            return reader, compressed
    known = ", ".join(sorted(s for r in READERS.values() for s in r.suffixes))
    raise InputError(
        f"unknown input format {suffix or '(no suffix)'!r} (known: {known}, each optionally .gz)",
        path=str(path),
    )


def is_supported(path: Path) -> bool:
    """Whether a file in a folder is one we read (other files are listed as skipped)."""
    try:
        reader_for(path)
    except InputError:
        return False
    return True


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files to read (folders expanded, sorted) and files skipped in folders."""
    files: list[Path] = []
    skipped: list[str] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                (files.append(child) if is_supported(child) else skipped.append(str(child)))
        elif path.is_file():
            reader_for(path)  # an explicit file of unknown format is an error
            files.append(path)
        else:
            raise InputError("no such file or folder", path=given)
    if not files:
        raise InputError("no readable input files found", path=", ".join(inputs))
    return files, skipped


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", path=str(path)) from None
    return digest.hexdigest()


def read_records(path: Path, limits: Limits = DEFAULT_LIMITS,
                 spans: list[EntrySpan] | None = None) -> Iterator[RawRecord]:
    """Stream the records of one file; I/O and decompression errors become InputError.
    A reader with entries appends their spans to ``spans`` when given."""
    reader, _ = reader_for(path)
    if reader.located and spans is not None:
        yield from _guarded(path, lambda stream: reader.read(stream, limits=limits,
                                                             spans=spans), limits)
        return
    yield from _guarded(path, lambda stream: reader.read(stream, limits=limits), limits)


def read_batches(path: Path, chunk_rows: int, string_fields: frozenset[str] = frozenset(),
                 part: Part | None = None, limits: Limits = DEFAULT_LIMITS,
                 spans: list[EntrySpan] | None = None) -> Iterator[Batch]:
    """Stream one file (or one part of it) as batches of at most ``chunk_rows`` records
    (``spans``: as :func:`read_records` takes them)."""
    reader, _ = reader_for(path)
    batches = reader.batches
    if batches is None:
        yield from record_batches(read_records(path, limits, spans), chunk_rows, limits)
        return

    def produce(stream: IO[bytes]) -> Iterator[Batch]:
        if part is None:
            return batches(stream, chunk_rows, string_fields, limits=limits)
        if reader.cut is not None:  # a part of the format's own (Parquet: row groups)
            return batches(stream, chunk_rows, string_fields, part.first_line, part=part,
                           limits=limits)
        assert reader.splittable  # a byte range cut at line ends
        return batches(_Slice(stream, part), chunk_rows, string_fields, part.first_line,
                       limits=limits)

    yield from _guarded(path, produce, limits, batches=True)


def record_batches(records: Iterator[RawRecord], chunk_rows: int,
                   limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """Records, ``chunk_rows`` at a time, as batches (for readers with no batches of
    their own, and for the part of a file Python must read)."""
    while batch := list(islice(records, chunk_rows)):
        yield from batches_of(batch, limits)


def split(path: Path, parts: int, min_bytes: int = 1 << 26) -> list[Part] | None:
    """Cut an uncompressed file into about ``parts`` parts: a line-based one into byte
    ranges at line ends, a Parquet file by row groups (its reader's ``cut``).

    None when the file cannot be cut (compressed, neither kind, one row group) or is too
    small to be worth it. Counting the lines before each cut is one fast pass over the
    bytes up to the last cut.
    """
    reader, compressed = reader_for(path)
    try:
        size = path.stat().st_size
    except OSError:  # gone since it was listed: reading it whole reports that
        return None
    if parts < 2 or compressed or size < min_bytes:
        return None
    if reader.cut is not None:
        return reader.cut(path, parts)
    if not reader.splittable:
        return None
    targets = [size * k // parts for k in range(1, parts)]
    cuts, lines_before = [0], [0]
    lines = position = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            if not targets:
                break  # past the last cut: the lines after it need no count
            while targets and targets[0] < position + len(block):
                at = block.find(b"\n", max(targets[0] - position, 0))
                if at < 0:
                    break  # the line ends in a later block
                targets.pop(0)
                cuts.append(position + at + 1)
                lines_before.append(lines + block.count(b"\n", 0, at + 1))
            lines += block.count(b"\n")
            position += len(block)
    bounds = [*cuts, size]
    return [Part(bounds[i], bounds[i + 1], lines_before[i] + 1)
            for i in range(len(cuts)) if bounds[i + 1] > bounds[i]]


class _Slice(io.RawIOBase):
    """The bytes of one part of a stream, read without copying the rest."""

    def __init__(self, stream: IO[bytes], part: Part) -> None:
        stream.seek(part.start)
        self._stream, self._left = stream, part.stop - part.start

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(size)
        self._left -= len(data)
        return data


def _guarded(path: Path, produce: Callable[[IO[bytes]], Iterator[Any]],
             limits: Limits = DEFAULT_LIMITS, *, batches: bool = False) -> Iterator[Any]:
    """Open (and decompress) a file for a producer; I/O errors become InputError.

    A compressed file is read through :class:`_Decompressed`: past the limits on
    decompression, what the producer had not yet given (the rest of the file) is one
    rejected record, a :class:`RawRecord` or (``batches``) a :class:`Batch` of it.
    """
    _, compressed = reader_for(path)
    inflated: _Decompressed | None = None
    last: Any = None  # the last record, or batch with records, given
    try:
        with path.open("rb") as raw:
            stream: IO[bytes] = raw
            if compressed:
                inflated = _Decompressed(raw, limits)
                stream = io.BufferedReader(inflated, buffer_size=1 << 20)
            for item in produce(stream):
                if not isinstance(item, Batch) or item.records:
                    last = item
                yield item
    except Exception as exc:
        # Once decompression stopped, whatever a reader raised comes from that (pyarrow,
        # reading Parquet through Python, wraps the stop in an error of its own).
        if inflated is not None and inflated.stopped is not None:
            rest = RawRecord(_line_after(last), error=inflated.stopped,
                             digest=inflated.rest_digest)
            yield batch_of([rest]) if batches else rest
            return
        if isinstance(exc, UnusableFile):
            raise InputError(exc.what, path=str(path), line=exc.line) from None
        if isinstance(exc, (OSError, EOFError, gzip.BadGzipFile)):
            what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise InputError(f"cannot read file: {what}", path=str(path)) from None
        raise


def _line_after(last: Any) -> int:
    """The line (or record index) after the last record a reader gave (``last``: a
    record, or a batch with records), where the unread rest of a file begins; 1 when it
    gave none."""
    if isinstance(last, RawRecord):
        return last.line + 1
    if isinstance(last, Batch):
        lines = [int(last.lines.max())] if len(last.lines) else []
        return max([*lines, *(r.line for r in last.rejected), 0]) + 1
    return 1


#: Decompressed bytes after which the compression ratio is checked: a small file of
#: repeated events may compress far better than a large one does.
RATIO_FROM = 64 * MIB


class DecompressionStopped(Exception):
    """Raised by :class:`_Decompressed` past a limit on decompression."""


class _Decompressed(io.RawIOBase):
    """The decompressed bytes of a gzip file, counted as they are read: past
    ``limits.decompressed_bytes``, or past :data:`RATIO_FROM` with more than
    ``limits.compression_ratio`` times the compressed bytes read so far, reading stops
    (:class:`DecompressionStopped`), so a small file that inflates without end (a "zip
    bomb") costs a bounded time. ``stopped`` then says why, naming the limit.
    """

    def __init__(self, raw: IO[bytes], limits: Limits) -> None:
        self._raw, self._limits = raw, limits
        self._gzip = gzip.GzipFile(fileobj=raw)
        self._furthest = 0  # a seek back (Parquet) reads nothing new
        self.stopped: str | None = None  # why reading stopped
        self.rest_digest = ""  # the digest of the compressed bytes then unread

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Seek as gzip does (Parquet's reader does), but decompress what lies beyond
        the furthest point yet read through :meth:`readinto`, so the limits hold."""
        if whence == io.SEEK_CUR:
            offset, whence = offset + self._gzip.tell(), io.SEEK_SET
        if whence == io.SEEK_SET and offset <= self._furthest:
            return self._gzip.seek(offset)
        self._gzip.seek(self._furthest)
        sink = bytearray(1 << 20)
        while whence == io.SEEK_END or self._gzip.tell() < offset:
            wanted = len(sink) if whence == io.SEEK_END else min(len(sink),
                                                                 offset - self._gzip.tell())
            if not self.readinto(memoryview(sink)[:wanted]):
                break
        return self._gzip.seek(offset, whence) if whence == io.SEEK_END else self._gzip.tell()

    def tell(self) -> int:
        return self._gzip.tell()

    def readinto(self, buffer: Any) -> int:
        if self.stopped is not None:
            raise DecompressionStopped(self.stopped)
        data = self._gzip.read(len(buffer))
        buffer[: len(data)] = data
        position = self._gzip.tell()
        if position > self._furthest:
            self._furthest = position
            self._check()
        return len(data)

    def _check(self) -> None:
        limits, inflated = self._limits, self._furthest
        if inflated > limits.decompressed_bytes:
            self._stop(f"the rest of the file is not read: it decompresses to more than "
                       f"{bytes_text(limits.decompressed_bytes)} (--limit decompressed-bytes)")
        elif inflated > RATIO_FROM:
            packed = max(self._raw.tell(), 1)
            if inflated > limits.compression_ratio * packed:
                self._stop(f"the rest of the file is not read: {_mib_text(inflated)} "
                           f"decompressed from {_mib_text(packed)}, more than "
                           f"{limits.compression_ratio} times its compressed size "
                           "(--limit compression-ratio)")

    def _stop(self, what: str) -> None:
        """Stop reading; the compressed bytes not yet read identify the unread rest."""
        digest = hashlib.blake2b(digest_size=16)
        for block in iter(lambda: self._raw.read(1 << 20), b""):
            digest.update(block)
        self.stopped, self.rest_digest = what, digest.hexdigest()
        raise DecompressionStopped(what)


def bytes_text(number: int) -> str:
    """A size as ``--limit`` takes it, for messages: ``8 MiB``, ``1,000 bytes``."""
    text = size_text(number)
    return text if text.endswith("B") else f"{text} bytes"


def too_long(limits: Limits) -> str:
    """Why a record (a line, a JSON array element, a HAR body) over the limit is rejected."""
    return f"record longer than {bytes_text(limits.record_bytes)} (--limit record-bytes)"


def _mib_text(number: int) -> str:
    """A size in whole MiB (or KiB, or bytes when smaller), for messages."""
    for unit, size in (("MiB", MIB), ("KiB", 1 << 10)):
        if number >= size:
            return f"{number // size:,} {unit}"
    return f"{number:,} bytes"


def line_ends(data: bytes) -> np.ndarray:
    """The offsets of the newlines of ``data``, in one vectorised pass."""
    import numpy as np

    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)


def batch_of(records: list[RawRecord], limits: Limits = DEFAULT_LIMITS) -> Batch:
    """Flatten parsed records into one frame; keep the unusable ones as rejections.

    A record with more than ``limits.keys`` keys (each value of a repeated key counted)
    is rejected here, identified by its canonical text: the frame would hold one column
    per key of it. A repeated key, or names that collide once flattened
    (``{"a.b": 1, "a": {"b": 2}}``), keep the last value in the row and are noted in the
    batch's :class:`Repeats`. For records that may bring many different keys,
    :func:`batches_of` keeps each frame bounded.
    """
    rows, lines, rejected, repeats = _flattened(records, limits)
    return _batch_from(rows, lines, rejected, repeats)


def batches_of(records: list[RawRecord], limits: Limits = DEFAULT_LIMITS) -> Iterator[Batch]:
    """:func:`batch_of`, cut where the rows so far and their distinct keys would make more
    than :data:`~audit.limits.BATCH_CELLS` cells: records that each bring keys of their
    own would otherwise make a frame of rows × keys cells. The rejections go with the
    first batch."""
    rows, lines, rejected, repeats = _flattened(records, limits)
    groups: list[tuple[int, int]] = []
    names: set[str] = set()
    first = 0
    for i, row in enumerate(rows):
        joined = names.union(row)
        if i > first and (i - first + 1) * len(joined) > BATCH_CELLS:
            groups.append((first, i))
            first, joined = i, set(row)
        names = joined
    groups.append((first, len(rows)))
    for k, (a, b) in enumerate(groups):  # one frame at a time
        yield _batch_from(rows[a:b], lines[a:b], rejected if k == 0 else [],
                          {row - a: found for row, found in repeats.items() if a <= row < b})


def _flattened(records: list[RawRecord], limits: Limits
               ) -> tuple[list[dict[str, Any]], list[int], list[Rejection], dict[int, Flat]]:
    """The usable records flattened, their lines, the rejections, and what the rows of
    records that repeat a key repeat (row → :class:`audit.normalize.Flat`)."""
    from audit.normalize import DuplicateKey, flatten, flatten_all

    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    rejected: list[Rejection] = []
    repeats: dict[int, Flat] = {}
    for record in records:
        if record.data is None:
            rejected.append(_rejection(record))
            continue
        found: Flat | None = None
        try:
            flat = flatten(record.data)
            keys = len(flat)
        except DuplicateKey:  # rare: every value of each path is gathered
            found = flatten_all(record.data)
            flat, keys = found.row, found.given
        if keys > limits.keys:
            rejected.append(_parsed_rejection(record, too_many_keys(keys, limits)))
            continue
        if found is not None:
            repeats[len(rows)] = found
        rows.append(flat)
        lines.append(record.line)
    return rows, lines, rejected, repeats


def _batch_from(rows: list[dict[str, Any]], lines: list[int], rejected: list[Rejection],
                repeats: dict[int, Flat]) -> Batch:
    import numpy as np
    import pandas as pd

    from audit.readers.columnar import WIDE_COLUMNS

    # A row per record, one that holds no value included (from_records would drop it).
    # A wide batch is one block of objects, as pyarrow's wide tables become (see
    # audit.readers.columnar.WIDE_COLUMNS): pandas would make a block per column.
    wide = len({name for row in rows for name in row}) > WIDE_COLUMNS
    frame = pd.DataFrame(rows, dtype=object if wide else None)
    noted = None
    if repeats:
        noted = Repeats(
            tuple(RepeatedKey(row, *key) for row, found in repeats.items()
                  for key in found.keys),
            tuple(Variant(row, *other) for row, found in repeats.items()
                  for other in found.others))
    return Batch(frame, np.asarray(lines, dtype=np.int64), rejected, noted)


def too_many_keys(keys: int, limits: Limits) -> str:
    """Why a record with ``keys`` flattened keys is rejected."""
    return f"{keys:,} keys, more than --limit keys allows ({limits.keys:,})"


def _parsed_rejection(record: RawRecord, what: str) -> Rejection:
    """A parsed record rejected, identified by its canonical JSON text (its bytes are
    gone; every path that parses the same record gives the same text)."""
    text = json.dumps(record.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return Rejection(record.line, what, content_digest(text))


def _rejection(record: RawRecord) -> Rejection:
    if record.digest is None:  # without it the finding would have no stable identity
        raise ValueError(f"record {record.line} is rejected without a digest of its content")
    return Rejection(record.line, record.error or "unreadable record", record.digest)


def text_stream(stream: IO[bytes]) -> io.TextIOWrapper:
    """Text view that keeps undecodable bytes as surrogates, so a bad byte is one bad record."""
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")


class UnusableFile(Exception):
    """A whole file that cannot be read record by record (e.g. a broken CSV header)."""

    def __init__(self, what: str, line: int | None = None) -> None:
        self.what, self.line = what, line
        super().__init__(what)


class Repeated(dict[str, Any]):
    """A JSON object that gives a key more than once. As a dict it holds the last value
    of each key, what most JSON consumers keep; ``pairs`` holds every (key, value) in
    document order, so that flattening audits each value
    (:func:`audit.normalize.flatten_all`)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = tuple(pairs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Repeated, (list(self.pairs),))

    def first_repeated(self) -> str:
        """The first key given a second time."""
        return _first_repeated(list(self.pairs))


class StrictJSON:
    """JSON decoding that reports what it would otherwise let pass silently.

    ``{"UserID": "amos@contoso.com", "UserID": "E296D735-..."}`` would be audited
    as if it carried only the hash. With ``repeats`` (the event readers) such an object
    is a :class:`Repeated`, which keeps every value so that each is audited (the reader
    then checks :func:`repeat_in_array`); without it (baselines) a duplicate key is a
    problem. ``"\\ud800"`` decodes to a lone surrogate, which is not Unicode text and
    cannot be written to any report: a record with a lone surrogate (at any depth) is
    rejected, saying which.
    Python's decoder also takes ``NaN`` and ``Infinity``, which JSON does not have, and
    numbers beyond a double (``1e999`` is infinite, a 5,000-digit integer cannot even be
    converted): pyarrow reads all of them as infinite or NaN doubles, so both paths
    reject them, with the same reason.
    """

    LONE_SURROGATE = "a \\u escape that is a lone surrogate (not valid Unicode)"
    #: integers from this many digits on may be beyond a double (pyarrow: infinite)
    _DIGITS = len(str(int(sys.float_info.max)))

    def __init__(self, *, repeats: bool = False) -> None:
        self._problems: list[str] = []
        self._repeats = repeats
        #: whether the last value decoded holds a :class:`Repeated` (see
        #: :func:`repeat_in_array`)
        self.repeated = False
        self.decoder = json.JSONDecoder(object_pairs_hook=self._pairs,
                                        parse_constant=self._constant,
                                        parse_float=self._float, parse_int=self._int)

    def _pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            if self._repeats:
                self.repeated = True
                obj = Repeated(pairs)
            else:
                self._problems.append(f"duplicate key {_first_repeated(pairs)!r}")
        if any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in pairs):
            self._problems.append(self.LONE_SURROGATE)
        return obj

    def _constant(self, name: str) -> None:
        self._problems.append(f"not valid JSON: {name} is not a JSON value")

    def _float(self, text: str) -> float | None:
        value = float(text)
        if math.isinf(value):
            self._problems.append("number too large (beyond a 64-bit float)")
            return None
        return value

    def _int(self, text: str) -> int | None:
        digits = len(text) - text.startswith("-")
        if digits >= self._DIGITS and math.isinf(float(text)):  # float() has no digit limit
            self._problems.append(f"number too large ({digits:,} digits)")
            return None
        return int(text)

    def raw_decode(self, text: str, position: int = 0) -> tuple[Any, int, str | None]:
        """(value, end, first problem or None); JSONDecodeError as usual."""
        self._problems.clear()
        self.repeated = False
        value, end = self.decoder.raw_decode(text, position)
        return value, end, self._problems[0] if self._problems else None

    def loads(self, text: str) -> tuple[Any, str | None]:
        """(value, first problem or None) of a whole JSON text."""
        start = len(text) - len(text.lstrip())
        value, end, problem = self.raw_decode(text, start)
        if text[end:].strip():
            raise json.JSONDecodeError("Extra data", text, end)
        return value, problem


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    return next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]


def repeat_in_array(record: dict[str, Any]) -> str | None:
    """Why a record whose decoding made a :class:`Repeated` cannot be audited, or None:
    an object inside an array that repeats a key. Flattening reaches objects through
    objects only, so that object's other values could not be audited."""
    key = _repeated_in_array(record)
    return None if key is None else f"duplicate key {key!r} in an object inside an array"


def _repeated_in_array(value: Any, in_array: bool = False) -> str | None:
    """The first key repeated by an object inside an array (at any depth), or None."""
    if isinstance(value, dict):
        if isinstance(value, Repeated):
            if in_array:
                return value.first_repeated()
            children: Any = [child for _, child in value.pairs]
        else:
            children = value.values()
    elif isinstance(value, list):
        children, in_array = value, True
    else:
        return None
    for child in children:
        found = _repeated_in_array(child, in_array)
        if found is not None:
            return found
    return None


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return not value.isascii() and has_surrogates(value)
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def has_surrogates(text: str) -> bool:
    """True when a string carries bytes that were not valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# Fill the registry: one import per format module.
from audit.readers import csv, har, json_array, jsonl, parquet  # noqa: E402,F401
