"""A JSON array of event objects, parsed element by element (line = record index).

A rejected element is identified by its text; one that ends the reading (the array
cannot be delimited past it) by the text from it to the end of the file, hashed as it
is read. An element longer than ``--limit record-bytes`` is rejected and streamed
through to its end without being held (:class:`JsonText` finds where a value ends from
its strings and brackets alone), and the elements after it are read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import IO, Any

from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import (
    RawRecord,
    Reader,
    StrictJSON,
    has_surrogates,
    register,
    reject,
    repeat_in_array,
    text_stream,
    too_long,
)

_DECODER = StrictJSON(repeats=True)
_BLOCK = 1 << 16
#: Past an element that cannot be parsed, the array's later elements cannot be found.
_REST = "; the elements after it are not read"
_NOT_WHITESPACE = re.compile(r"[^ \t\r\n]")
_IN_STRING = re.compile(r'["\\]')  # what ends a string, or escapes the next character
_STRUCTURE = re.compile(r'["\[\]{}]')  # outside strings, what opens or closes a value
_SCALAR_END = re.compile(r"[\s,\]}:]")  # what ends a number or a literal


class TooLong(Exception):
    """A value longer than the limit, streamed through: the digest of its text, and
    whether it ended (else the file ended inside it)."""

    def __init__(self, digest: str, ended: bool) -> None:
        self.digest, self.ended = digest, ended
        super().__init__(digest)


class Broken(ValueError):
    """A JSON text that cannot be followed further: what is wrong."""


class _Extent:
    """Where one JSON value ends, found from its strings and brackets alone (not parsed),
    over text given a piece at a time."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = self.scalar = self.escaped = False

    def start(self, text: str, position: int) -> int | None:
        """Begin at the value's first character; the end as :meth:`scan` gives it."""
        first = text[position]
        if first == '"':
            self.in_string = True
        elif first in "[{":
            self.depth = 1
        else:
            self.scalar = True
            return self.scan(text, position)
        return self.scan(text, position + 1)

    def scan(self, text: str, position: int) -> int | None:
        """The offset just past the value's end in ``text``, scanning from ``position``;
        None when the text ends first (give the next piece from its offset 0)."""
        if self.escaped:
            self.escaped, position = False, position + 1
        while True:
            if self.in_string:
                found = _IN_STRING.search(text, position)
                if found is None:
                    return None
                if found.group() == "\\":
                    position = found.end() + 1
                    if position > len(text):
                        self.escaped = True
                        return None
                    continue
                self.in_string, position = False, found.end()
                if not self.depth:
                    return position
            elif self.scalar:
                found = _SCALAR_END.search(text, position)
                return None if found is None else found.start()
            else:
                found = _STRUCTURE.search(text, position)
                if found is None:
                    return None
                char, position = found.group(), found.end()
                if char == '"':
                    self.in_string = True
                elif char in "[{":
                    self.depth += 1
                else:
                    self.depth -= 1
                    if self.depth <= 0:
                        return position


class JsonText:
    """A JSON text read a block at a time, walked value by value: what the JSON array
    and HAR readers hold is about one block and one value, a value never beyond
    ``limits.record_bytes`` (:class:`TooLong` is raised after streaming through it)."""

    def __init__(self, stream: IO[bytes], limits: Limits) -> None:
        self._text = text_stream(stream)
        self.limit = limits.record_bytes
        self.buffer = ""
        self.position = 0
        self.eof = False

    def fill(self, size: int = _BLOCK) -> bool:
        """Read on (keeping the text from ``position``); False at the end of the file."""
        if self.eof:
            return False
        block = self._text.read(size)
        if not block:
            self.eof = True
            return False
        self.buffer = self.buffer[self.position:] + block
        self.position = 0
        return True

    def peek(self) -> str | None:
        """The next character that is not whitespace (``position`` moved to it); None at
        the end of the file."""
        while True:
            found = _NOT_WHITESPACE.search(self.buffer, self.position)
            if found is not None:
                self.position = found.start()
                return self.buffer[self.position]
            self.position = len(self.buffer)
            if not self.fill():
                return None

    def expect(self, char: str) -> None:
        """Step over ``char``, the next character that is not whitespace."""
        found = self.peek()
        if found != char:
            raise Broken(f"expected {char!r}, found {'the end' if found is None else repr(found)}")
        self.position += 1

    def value(self, decoder: StrictJSON) -> tuple[Any, str | None, str]:
        """The value at ``position``, its first problem (see :class:`StrictJSON`) and its
        text; ``position`` moves past it. Raises :class:`Broken` where it is not valid
        JSON, :class:`TooLong` (having streamed through it) where it is over the limit,
        RecursionError where it is nested too deeply."""
        if self.peek() is None:
            raise Broken("the file ends where a value was expected")
        start = self.position
        try:
            value, end, problem = decoder.raw_decode(self.buffer, start)
            whole = end < len(self.buffer) or self.eof  # a number may go on
        except json.JSONDecodeError:
            whole = False
        if not whole:
            self._extend()  # the value's end is in the buffer now, or the file ended
            start = self.position
            try:
                value, end, problem = decoder.raw_decode(self.buffer, start)
            except json.JSONDecodeError as exc:
                raise Broken(exc.msg) from None
        text = self.buffer[start:end]
        if end - start > self.limit // 4 and \
                len(text.encode("utf-8", "surrogatepass")) > self.limit:
            self.position = end
            raise TooLong(_digest(text), ended=True)
        self.position = end
        return value, problem, text

    def _extend(self) -> None:
        """Read on until the value at ``position`` ends in the buffer (or the file ends);
        past the limit, stream through the rest of it and raise :class:`TooLong`."""
        extent = _Extent()
        end = extent.start(self.buffer, self.position)
        while end is None:
            held = len(self.buffer) - self.position
            if held > self.limit:
                self._stream_through(extent)
            if not self.fill(max(_BLOCK, held)):  # growing: each byte is scanned once
                return
            end = extent.scan(self.buffer, held)

    def _stream_through(self, extent: _Extent) -> None:
        digest = hashlib.blake2b(self.buffer[self.position:].encode("utf-8", "surrogatepass"),
                                 digest_size=16)
        self.buffer, self.position = "", 0
        while block := self._text.read(_BLOCK):
            end = extent.scan(block, 0)
            if end is not None:
                digest.update(block[:end].encode("utf-8", "surrogatepass"))
                self.buffer = block[end:]
                raise TooLong(digest.hexdigest(), ended=True)
            digest.update(block.encode("utf-8", "surrogatepass"))
        self.eof = True
        raise TooLong(digest.hexdigest(), ended=False)

    def skip(self) -> None:
        """Step over the value at ``position`` without keeping it, however long."""
        if self.peek() is None:
            raise Broken("the file ends where a value was expected")
        extent = _Extent()
        end = extent.start(self.buffer, self.position)
        while end is None:
            self.buffer, self.position = "", 0
            if not self.fill():
                raise Broken("the file ends inside a value")
            end = extent.scan(self.buffer, 0)
        self.position = end

    def members(self, decoder: StrictJSON) -> Iterator[str]:
        """The keys of the object at ``position``; after each, the caller reads or skips
        its value."""
        self.expect("{")
        if self.peek() == "}":
            self.position += 1
            return
        while True:
            if self.peek() != '"':
                raise Broken("expected a key")
            key, _, _ = self.value(decoder)
            self.expect(":")
            if self.peek() is None:
                raise Broken("the file ends inside an object")
            yield key
            after = self.peek()
            self.position += 1
            if after == "}":
                return
            if after != ",":
                raise Broken("expected ',' or '}' after a member")

    def rest_digest(self) -> str:
        """The digest of the text from ``position`` to the end, hashed as it is read."""
        digest = hashlib.blake2b(self.buffer[self.position:].encode("utf-8", "surrogatepass"),
                                 digest_size=16)  # as content_digest, in pieces
        while not self.eof and (block := self._text.read(_BLOCK)):
            digest.update(block.encode("utf-8", "surrogatepass"))
        self.eof = True
        return digest.hexdigest()


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield the array's elements one at a time without loading the whole file.

    A broken element cannot be delimited from the rest, so it is reported and
    the rest of the file with it, as one rejected record.
    """
    text = JsonText(stream, limits)

    def rest(line: int, what: str) -> RawRecord:
        """The last record: the text from here to the end, hashed block by block."""
        return RawRecord(line, error=what, digest=text.rest_digest())

    first = text.peek()
    if first is None:
        return
    if first != "[":
        yield rest(1, "not a JSON array of objects")
        return
    text.position += 1
    index = 0
    expect_value = True
    while True:
        char = text.peek()
        if char is None:
            yield rest(index + 1, "invalid JSON: the array is not closed")
            return
        if char == "]" and (index == 0 or not expect_value):
            return
        if not expect_value:
            if char != ",":
                yield rest(index + 1, "invalid JSON: expected ',' between elements")
                return
            text.position += 1
            expect_value = True
            continue
        index += 1
        expect_value = False
        try:
            value, problem, raw = text.value(_DECODER)
        except Broken as exc:
            yield rest(index, f"invalid JSON: {exc}{_REST}")
            return
        except RecursionError:
            yield rest(index, f"invalid JSON: nested too deeply{_REST}")
            return
        except TooLong as exc:
            ended = "" if exc.ended else "; the array is not closed"
            yield RawRecord(index, error=too_long(limits) + ended, digest=exc.digest)
            if not exc.ended:
                return
            continue
        if problem is None and _DECODER.repeated and isinstance(value, dict):
            problem = repeat_in_array(value)
        if not isinstance(value, dict):
            yield reject(index, f"not a JSON object (found {type(value).__name__})", raw)
        elif problem is not None:
            yield reject(index, problem, raw)
        elif has_surrogates(raw):
            yield reject(index, "invalid UTF-8", raw)
        else:
            yield RawRecord(index, value)


register(Reader("json", (".json",), read))
