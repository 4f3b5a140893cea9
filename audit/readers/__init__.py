"""Readers: turn input files into a stream of raw records with their line numbers.

Each reader yields :class:`RawRecord` values lazily, so a dump of any size is
read in constant memory. A record that cannot be parsed is yielded with an
``error`` instead of data: the engine reports it as ``input/malformed-record``
and goes on. A file that cannot be opened at all raises :class:`InputError`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audit.errors import InputError


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: its 1-based line (or record index) and data or error."""

    line: int
    data: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Reader:
    """A registered input format. ``typed`` is False where every value is text (CSV)."""

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[IO[bytes]], Iterator[RawRecord]]
    typed: bool = True


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


def read_records(path: Path) -> Iterator[RawRecord]:
    """Stream the records of one file; I/O and decompression errors become InputError."""
    reader, compressed = reader_for(path)
    try:
        with path.open("rb") as raw:
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if compressed else raw
            yield from reader.read(stream)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"cannot read file: {what}", path=str(path)) from None


def text_stream(stream: IO[bytes]) -> io.TextIOWrapper:
    """Text view that keeps undecodable bytes as surrogates, so a bad byte is one bad record."""
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")


def has_surrogates(text: str) -> bool:
    """True when a string carries bytes that were not valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# Fill the registry: one import per format module.
from audit.readers import csv, har, json_array, jsonl, parquet  # noqa: E402,F401
