"""Writing a JSON document whose one long list is streamed, item by item.

report.json and SARIF hold one entry per finding; building them as one Python
object and one string would make writing a report of a large dump cost
gigabytes. The document is dumped with a marker where the list goes, and the
list is written between the two halves, each item indented as ``json.dumps``
would have done it: the bytes are the same as dumping the whole at once (apart
from a float's exponent, ``1e20`` for ``1e+20``; findings hold none). Items are
encoded by orjson, ten times faster than the standard encoder with indentation,
which is what a report of a million findings spends its time on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import IO, Any

import orjson

INDENT = 2


def write_json(doc: Any, out: IO[bytes], marker: str, items: Iterable[Any]) -> None:
    """Write ``doc`` as indented UTF-8 JSON, with ``items`` where ``doc`` holds ``marker``."""
    text = json.dumps(doc, indent=INDENT, ensure_ascii=False) + "\n"
    quoted = json.dumps(marker)
    at = text.index(quoted)
    line_start = text.rfind("\n", 0, at) + 1
    depth = len(text[line_start:at]) - len(text[line_start:at].lstrip(" "))
    inner = "\n" + " " * (depth + INDENT)
    out.write(text[:at].encode("utf-8"))
    written = False
    inner_bytes = inner.encode("utf-8")
    for item in items:
        out.write(b"," + inner_bytes if written else b"[" + inner_bytes)
        out.write(orjson.dumps(item, option=orjson.OPT_INDENT_2).replace(b"\n", inner_bytes))
        written = True
    out.write(("\n" + " " * depth + "]" if written else "[]").encode("utf-8"))
    out.write(text[at + len(quoted):].encode("utf-8"))


def new_marker() -> str:
    """A string no report value can equal by chance."""
    return f"<streamed list {uuid.uuid4()}>"
