"""JSON Lines / NDJSON: one object per physical line; blank lines are not records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from audit.readers import RawRecord, Reader, register


def read(stream: IO[bytes]) -> Iterator[RawRecord]:
    """Yield one record per non-blank line, with its 1-based physical line number."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield RawRecord(number, error=f"invalid UTF-8 at byte {exc.start}")
            continue
        try:
            data = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield RawRecord(number, error=f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            yield RawRecord(number, error="invalid JSON: nested too deeply")
            continue
        if not isinstance(data, dict):
            yield RawRecord(number, error=f"not a JSON object (found {type(data).__name__})")
            continue
        yield RawRecord(number, data)


register(Reader("jsonl", (".jsonl", ".ndjson"), read))
