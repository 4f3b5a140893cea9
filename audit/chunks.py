"""Files → normalised chunks: a large file streams a chunk at a time, small files
share chunks (each row keeping its input and line).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from audit import readers
from audit.fingerprint import printable
from audit.limits import BATCH_CELLS, DEFAULT_LIMITS, Limits
from audit.mapping import FieldMapping
from audit.normalize import Chunk, Piece, normalize_chunk
from audit.readers import (
    EntrySpan,
    Part,
    RawRecord,
    Rejection,
    read_batches,
    read_records,
    reader_for,
)
from audit.readers.ahead import read_ahead
from audit.rulepack import RulePack


def file_size(path: Path) -> int:
    """The file's size; 0 when it cannot be read (its reader reports why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def iter_chunks(paths: Sequence[Path], pack: RulePack, chunk_rows: int,
                part: Part | None = None, mapping: FieldMapping | None = None,
                ahead: bool = False, limits: Limits = DEFAULT_LIMITS,
                spans: Sequence[list[EntrySpan] | None] | None = None) -> Iterator[Chunk]:
    """Normalised chunks of files read one after another (or of one part of one file),
    at most ``chunk_rows`` records each (a batch the reader cut by lines may hold
    fewer): each batch joins the chunk being filled, so small files share chunks while
    a large one streams a chunk at a time. With ``ahead``, a format pyarrow parses (the
    GIL released) has its next batch read in a thread while this chunk is checked;
    formats read by Python gain nothing from it. ``spans[i]``, when a list, receives the
    entry spans of ``paths[i]`` (a HAR capture), complete once the chunks are."""
    sources = tuple(printable(path) for path in paths)
    pieces = _pieces(paths, pack, chunk_rows, part, limits, mapping, spans)
    if ahead and any(reader_for(path)[0].batches is not None for path in paths):
        pieces = read_ahead(pieces)
    held: list[Piece] = []
    count = start = rows = 0
    columns: set[str] = set()  # of the held pieces: a chunk's frame has a cell for each row
    for piece in pieces:
        frame = piece.batch.frame
        joined = columns.union(frame.columns)
        if held and (count + piece.batch.records > chunk_rows
                     or (rows + len(frame)) * len(joined) > BATCH_CELLS):
            yield normalize_chunk(held, sources, pack, start=start, mapping=mapping)
            start += rows
            held, count, rows, joined = [], 0, 0, set(frame.columns)
        held.append(piece)
        count += piece.batch.records
        rows += len(frame)
        columns = joined
        if count >= chunk_rows:
            yield normalize_chunk(held, sources, pack, start=start, mapping=mapping)
            start += rows
            held, count, rows, columns = [], 0, 0, set()
    if held:
        yield normalize_chunk(held, sources, pack, start=start, mapping=mapping)


def _pieces(paths: Sequence[Path], pack: RulePack, chunk_rows: int, part: Part | None,
            limits: Limits, mapping: FieldMapping | None,
            spans: Sequence[list[EntrySpan] | None] | None = None) -> Iterator[Piece]:
    """The files' records in turn, as batches with each record's file: a file's own
    batches, or, for consecutive small files, their records read and gathered into
    batches of up to ``chunk_rows`` (empty batches left out: they add nothing)."""
    strings = string_fields(pack)
    gathered: list[RawRecord] = []
    owners: list[int] = []
    alike = True  # whether the gathered records are typed (CSV's are text)
    for position, path in enumerate(paths):
        reader, _ = reader_for(path)
        small = part is None and _small(path)
        entries = spans[position] if spans is not None else None
        records = list(read_records(path, limits, entries)) if small else []
        # The field mapping works row by row, so mapped files share batches too.
        kind = reader.typed
        if gathered and (not small or kind != alike):
            yield from _gathered(gathered, owners, alike, limits)
            gathered, owners = [], []
        if not small:
            for batch in read_batches(path, chunk_rows, strings, part, limits, entries):
                if batch.records:
                    yield Piece.of(position, batch, reader.typed)
            continue
        alike = kind
        for record in records:
            gathered.append(record)
            owners.append(position)
            if len(gathered) >= chunk_rows:
                yield from _gathered(gathered, owners, alike, limits)
                gathered, owners = [], []
    if gathered:
        yield from _gathered(gathered, owners, alike, limits)


#: Files up to this size are read record by record, their records gathered with those of
#: the small files around them into one batch: a frame per small file, and joining the
#: frames, would cost more than reading them.
SMALL_FILE_BYTES = 1 << 16


def _small(path: Path) -> bool:
    """Whether a file holds at most `SMALL_FILE_BYTES`, decompressed: a small gzip file
    may inflate to a line of any length, which only the reader's own batches stream."""
    if file_size(path) > SMALL_FILE_BYTES:
        return False
    if not reader_for(path)[1]:
        return True
    try:
        with gzip.open(path, "rb") as stream:
            return len(stream.read(SMALL_FILE_BYTES + 1)) <= SMALL_FILE_BYTES
    except (OSError, EOFError, zlib.error):  # the reader reports what is wrong
        return False


def _gathered(records: list[RawRecord], owners: list[int], typed: bool,
              limits: Limits) -> Iterator[Piece]:
    """Records of several files (``owners[i]``: the file of ``records[i]``) as pieces (one,
    unless their keys make more cells than a batch holds).

    The reader's ``batches_of`` makes the batches; it is given each record's position in
    place of its line (two files have a line 5 each), so that every row and rejection can
    be traced back to its file and true line."""
    numbered = [replace(record, line=k) for k, record in enumerate(records)]
    lines = np.fromiter((r.line for r in records), dtype=np.int64, count=len(records))
    files = np.asarray(owners, dtype=np.intp)
    for batch in readers.batches_of(numbered, limits):
        rejected = [Rejection(int(lines[r.line]), r.what, r.digest) for r in batch.rejected]
        yield Piece(readers.Batch(batch.frame, lines[batch.lines], rejected, batch.repeats),
                    files[batch.lines], [owners[r.line] for r in batch.rejected], typed)


def string_fields(pack: RulePack) -> frozenset[str]:
    """Fields every category declares as strings: readers must keep them as text."""
    by_name: dict[str, set[str]] = {}
    for category in pack.categories.values():
        for spec in category.fields.values():
            by_name.setdefault(spec.name, set()).add(spec.type)
    return frozenset(name for name, types in by_name.items() if types == {"string"})
