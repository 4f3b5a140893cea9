"""HAR captures: the JSON bodies of requests posted to telemetry endpoints.

A body may hold one event object, an array of events, an envelope with an
``events`` array, or JSON Lines. The line of a record is its 1-based index
among all events of the capture (a HAR has no useful lines).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import IO, Any

from audit.readers import RawRecord, Reader, StrictJSON, register

POST_METHODS = frozenset({"POST", "PUT"})
_JSON = StrictJSON()
_TOO_DEEP = "invalid JSON in request body: nested too deeply"


def read(stream: IO[bytes]) -> Iterator[RawRecord]:
    """Yield each event of each JSON request body."""
    try:
        har = json.load(stream)
        entries = har["log"]["entries"]
        if not isinstance(entries, list):
            raise TypeError
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OSError(f"not a HAR file ({exc})") from None
    except RecursionError:
        raise OSError("not a HAR file (nested too deeply)") from None
    except (KeyError, TypeError):
        raise OSError("not a HAR file (no log.entries list)") from None
    index = 0
    for entry in entries:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or request.get("method", "").upper() not in POST_METHODS:
            continue
        post = request.get("postData") or {}
        mime = str(post.get("mimeType", "")).lower()
        body = post.get("text")
        if not isinstance(body, str) or not body.strip():
            continue
        if post.get("encoding") == "base64":
            try:
                body = base64.b64decode(body, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                index += 1
                yield RawRecord(index, error="request body is not valid base64 UTF-8")
                continue
        for item in _events(body, looks_json="json" in mime):
            index += 1
            yield RawRecord(index, item) if isinstance(item, dict) else RawRecord(index, error=item)


def _events(body: str, *, looks_json: bool) -> Iterator[dict[str, Any] | str]:
    """The events of one body; strings are errors. Non-JSON bodies are not telemetry.

    A duplicate key (or a lone surrogate) cannot be pinned to one event of a batched
    body, so every event of that body is rejected rather than one silently audited
    with a value dropped.
    """
    try:
        data, problem = _JSON.loads(body)
    except RecursionError:
        yield _TOO_DEEP
        return
    except json.JSONDecodeError:
        lines = [line for line in body.splitlines() if line.strip()]
        parsed: list[Any] = []
        for line in lines:
            try:
                value, line_problem = _JSON.loads(line)
                parsed.append(line_problem if line_problem is not None else value)
            except json.JSONDecodeError as exc:
                parsed.append(f"invalid JSON in request body: {exc.msg}")
            except RecursionError:
                parsed.append(_TOO_DEEP)
        if looks_json or any(not isinstance(p, str) for p in parsed):
            yield from (p if isinstance(p, dict | str) else "not a JSON object" for p in parsed)
        return
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    for item in items:
        if problem is not None:
            yield f"{problem} in the request body"
        elif isinstance(item, dict):
            yield item
        else:
            yield f"not a JSON object (found {type(item).__name__})"


register(Reader("har", (".har",), read))
