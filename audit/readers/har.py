"""HAR captures: the JSON bodies of requests posted to telemetry endpoints.

A body may hold one event object, an array of events, an envelope with an
``events`` array, or JSON Lines. The line of a record is its 1-based index
among all events of the capture (a HAR has no useful lines).

A POST or PUT body that is not JSON (Bond, protobuf, a binary blob) is one rejected
record, not nothing: a capture of bodies this tool cannot read must not look like a
capture with no telemetry in it. Requests of other methods and empty bodies carry no
telemetry and are left out.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import IO, Any, NamedTuple

from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import RawRecord, Reader, StrictJSON, register, reject

POST_METHODS = frozenset({"POST", "PUT"})
_JSON = StrictJSON()
_TOO_DEEP = "invalid JSON in request body: nested too deeply"
BINARY_BODY = "not auditable: binary request body"


class _Event(NamedTuple):
    """One event of a body: its data, or what is wrong and the text that identifies it."""

    data: dict[str, Any] | None
    error: str | None = None
    content: str = ""


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield each event of each request body posted."""
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
        mime = str(post.get("mimeType") or "").strip()
        body = post.get("text")
        if not isinstance(body, str) or not body.strip():
            continue
        for event in _body_events(body, mime, base64_encoded=post.get("encoding") == "base64"):
            index += 1
            yield RawRecord(index, event.data) if event.data is not None else \
                reject(index, event.error or "unreadable request body", event.content)


def _body_events(body: str, mime: str, *, base64_encoded: bool) -> Iterator[_Event]:
    """The events of one body as given in the HAR (base64 decoded here)."""
    if base64_encoded:
        try:
            decoded = base64.b64decode(body, validate=True)
        except binascii.Error:
            yield _Event(None, "not auditable: request body is not valid base64", body)
            return
        try:
            body = decoded.decode("utf-8")
        except UnicodeDecodeError:
            yield _Event(None, BINARY_BODY, body)
            return
        if not body.strip():
            return
    yield from _events(body, mime)


def _events(body: str, mime: str) -> Iterator[_Event]:
    """The events of one body of text.

    A duplicate key (or a lone surrogate) cannot be pinned to one event of a batched
    body, so every event of that body is rejected rather than one silently audited
    with a value dropped; each is then identified by the body's text. A body that is
    neither JSON nor JSON Lines, when its content type does not say JSON, is one record
    that cannot be audited.
    """
    try:
        data, problem = _JSON.loads(body)
    except RecursionError:
        yield _Event(None, _TOO_DEEP, body)
        return
    except json.JSONDecodeError:
        parsed = [_line_event(line) for line in body.splitlines() if line.strip()]
        if "json" in mime.lower() or any(is_json for _, is_json in parsed):
            yield from (event for event, _ in parsed)
        else:
            what = mime or "no content type"
            yield _Event(None, f"not auditable: request body is not JSON ({what})", body)
        return
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    for item in items:
        if problem is not None:
            yield _Event(None, f"{problem} in the request body", body)
        elif isinstance(item, dict):
            yield _Event(item)
        else:
            yield _Event(None, f"not a JSON object (found {type(item).__name__})",
                         json.dumps(item, ensure_ascii=False, sort_keys=True))


def _line_event(line: str) -> tuple[_Event, bool]:
    """One line of a JSON Lines body, and whether it is JSON at all."""
    try:
        value, problem = _JSON.loads(line)
    except json.JSONDecodeError as exc:
        return _Event(None, f"invalid JSON in request body: {exc.msg}", line), False
    except RecursionError:
        return _Event(None, _TOO_DEEP, line), False
    if problem is not None:
        return _Event(None, problem, line), True
    if not isinstance(value, dict):
        return _Event(None, "not a JSON object", line), True
    return _Event(value), True


register(Reader("har", (".har",), read))
