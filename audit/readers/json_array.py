"""A JSON array of event objects, parsed element by element (line = record index).

A rejected element is identified by its text; one that ends the reading (the array
cannot be delimited past it) by the text from it to the end of the file, hashed as it
is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import IO

from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import (
    RawRecord,
    Reader,
    StrictJSON,
    has_surrogates,
    register,
    reject,
    text_stream,
)

_DECODER = StrictJSON()
_BLOCK = 1 << 16
#: Past an element that cannot be parsed, the array's later elements cannot be found.
_REST = "; the elements after it are not read"
_WHITESPACE = " \t\r\n"


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield the array's elements one at a time without loading the whole file.

    A broken element cannot be delimited from the rest, so it is reported and
    the rest of the file with it, as one rejected record.
    """
    text = text_stream(stream)
    buffer = ""
    position = 0
    index = 0
    eof = False

    def fill() -> bool:
        nonlocal buffer, position, eof
        if eof:
            return False
        block = text.read(_BLOCK)
        if not block:
            eof = True
            return False
        buffer = buffer[position:] + block
        position = 0
        return True

    def skip_ws() -> str | None:
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not fill():
                return None

    def rest(line: int, what: str) -> RawRecord:
        """The last record: the text from here to the end, hashed block by block."""
        digest = hashlib.blake2b(buffer[position:].encode("utf-8", "surrogatepass"),
                                 digest_size=16)  # as content_digest, in pieces
        while not eof and (block := text.read(_BLOCK)):
            digest.update(block.encode("utf-8", "surrogatepass"))
        return RawRecord(line, error=what, digest=digest.hexdigest())

    first = skip_ws()
    if first is None:
        return
    if first != "[":
        yield rest(1, "not a JSON array of objects")
        return
    position += 1
    expect_value = True
    while True:
        char = skip_ws()
        if char is None:
            yield rest(index + 1, "invalid JSON: the array is not closed")
            return
        if char == "]" and (index == 0 or not expect_value):
            return
        if not expect_value:
            if char != ",":
                yield rest(index + 1, "invalid JSON: expected ',' between elements")
                return
            position += 1
            expect_value = True
            continue
        index += 1
        while True:
            try:
                value, end, problem = _DECODER.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if fill():
                    continue  # the element may end in the next block
                yield rest(index, f"invalid JSON: {exc.msg}{_REST}")
                return
            except RecursionError:
                yield rest(index, f"invalid JSON: nested too deeply{_REST}")
                return
            if end >= len(buffer) and not eof and fill():
                continue  # a number may continue in the next block
            break
        start, position = position, end
        expect_value = False
        if not isinstance(value, dict):
            yield reject(index, f"not a JSON object (found {type(value).__name__})",
                         buffer[start:end])
        elif problem is not None:
            yield reject(index, problem, buffer[start:end])
        elif has_surrogates(buffer[start:end]):
            yield reject(index, "invalid UTF-8", buffer[start:end])
        else:
            yield RawRecord(index, value)


register(Reader("json", (".json",), read))
