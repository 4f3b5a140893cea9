"""HAR captures: the JSON bodies of requests posted to telemetry endpoints.

A body may hold one event object, an array of events, an envelope with an
``events`` array, or JSON Lines. The line of a record is its 1-based index
among all events of the capture (a HAR has no useful lines).

A POST or PUT body that is not JSON (Bond, protobuf, a binary blob) is one rejected
record, not nothing: a capture of bodies this tool cannot read must not look like a
capture with no telemetry in it. Requests of other methods and empty bodies carry no
telemetry and are left out.

A capture is walked as it is read (:class:`~audit.readers.json_array.JsonText`), never
loaded whole: responses, headers, timings and whatever else an entry holds are
stepped over without being kept, so a capture of any size costs about one request body.
A body longer than ``--limit record-bytes`` is one rejected record, streamed through. A
file that is not a HAR (not JSON, no ``log.entries`` list) cannot be read at all, as
before; where the JSON breaks after the first entries, the records given stand and the
rest of the file is one rejected record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import IO, Any, NamedTuple

from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import (
    RawRecord,
    Reader,
    Repeated,
    StrictJSON,
    register,
    reject,
    repeat_in_array,
    too_long,
)
from audit.readers.json_array import Broken, JsonText, TooLong

POST_METHODS = frozenset({"POST", "PUT"})
_JSON = StrictJSON()
_BODY = StrictJSON(repeats=True)  # events that repeat a key are audited with each value
_TOO_DEEP = "invalid JSON in request body: nested too deeply"
BINARY_BODY = "not auditable: binary request body"
_NO_ENTRIES = "no log.entries list"


class _Event(NamedTuple):
    """One event of a body: its data, or what is wrong and the text that identifies it."""

    data: dict[str, Any] | None
    error: str | None = None
    content: str = ""
    digest: str | None = None  # instead of the content, for a body streamed through


class _Request(NamedTuple):
    """What an entry's request holds that matters here (a body over the limit is its
    digest)."""

    method: str
    mime: str
    body: str | TooLong | None
    base64_encoded: bool


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawRecord]:
    """Yield each event of each request body posted."""
    text = JsonText(stream, limits)
    index = 0
    entries = False
    try:
        if text.peek() != "{":
            raise Broken("not a JSON object")
        for key in text.members(_JSON):
            if key != "log" or text.peek() != "{":
                text.skip()
                continue
            for name in text.members(_JSON):
                if name != "entries" or text.peek() != "[":
                    text.skip()
                    continue
                entries = True
                for request in _requests(text, limits):
                    for event in _request_events(request, limits):
                        index += 1
                        if event.data is not None:
                            yield RawRecord(index, event.data)
                        elif event.digest is not None:
                            yield RawRecord(index, error=event.error, digest=event.digest)
                        else:
                            yield reject(index, event.error or "unreadable request body",
                                         event.content)
        if text.peek() is not None:
            raise Broken("more after the capture's object")
    except (Broken, RecursionError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else f"invalid JSON: {exc}"
        if not index:
            raise OSError(f"not a HAR file ({what})") from None
        yield RawRecord(index + 1, error=f"{what}; the rest of the capture is not read",
                        digest=text.rest_digest())
        return
    if not entries:
        raise OSError(f"not a HAR file ({_NO_ENTRIES})")


def _requests(text: JsonText, limits: Limits) -> Iterator[_Request]:
    """The requests of the entries array at ``position`` that may carry telemetry."""
    text.expect("[")
    if text.peek() == "]":
        text.position += 1
        return
    while True:
        if text.peek() == "{":
            request = _entry(text)
            if request is not None:
                yield request
        else:
            text.skip()
        after = text.peek()
        text.position += 1
        if after == "]":
            return
        if after != ",":
            raise Broken("expected ',' or ']' between entries")


def _entry(text: JsonText) -> _Request | None:
    """An entry's request, when it is a POST or PUT with a body; the rest stepped over."""
    found: _Request | None = None
    for key in text.members(_JSON):
        if key == "request" and text.peek() == "{":
            found = _request(text)
        else:
            text.skip()
    return found


def _request(text: JsonText) -> _Request | None:
    method = mime = ""
    body: str | TooLong | None = None
    base64_encoded = False
    for key in text.members(_JSON):
        if key == "method":
            method = _string(text)
        elif key == "postData" and text.peek() == "{":
            for name in text.members(_JSON):
                if name == "text":
                    try:
                        value, _, _ = text.value(_JSON)
                        body = value if isinstance(value, str) else None
                    except TooLong as exc:
                        body = exc
                elif name == "mimeType":
                    mime = _string(text).strip()
                elif name == "encoding":
                    base64_encoded = _string(text) == "base64"
                else:
                    text.skip()
        else:
            text.skip()
    if method.upper() not in POST_METHODS or body is None:
        return None
    return _Request(method, mime, body, base64_encoded)


def _string(text: JsonText) -> str:
    """A short string value (a method, a content type), or "" for anything else."""
    try:
        value, _, _ = text.value(_JSON)
    except TooLong:
        return ""
    return value if isinstance(value, str) else ""


def _request_events(request: _Request, limits: Limits) -> Iterator[_Event]:
    """The events of one request's body; a body over the limit is one rejected record."""
    body = request.body
    if isinstance(body, TooLong):
        yield _Event(None, too_long(limits), digest=body.digest)
        return
    if body is None or not body.strip():
        return
    yield from _body_events(body, request.mime, base64_encoded=request.base64_encoded)


def _body_events(body: str, mime: str, *, base64_encoded: bool) -> Iterator[_Event]:
    """The events of one body as given in the HAR (base64 decoded here)."""
    if base64_encoded:
        try:
            decoded = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):  # ValueError: text that is not ASCII
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

    An event that repeats a key is audited with each value (see
    :class:`~audit.readers.Repeated`). A lone surrogate, or an envelope that repeats
    ``events``, cannot be pinned to one event of a batched body, so every event of that
    body is rejected rather than one silently audited with a value dropped; each is then
    identified by the body's text. A body that is neither JSON nor JSON Lines, when its
    content type does not say JSON, is one record that cannot be audited.
    """
    try:
        data, problem = _BODY.loads(body)
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
        if isinstance(data, Repeated) and [k for k, _ in data.pairs].count("events") > 1:
            problem = problem or "duplicate key 'events'"
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    repeated = _BODY.repeated
    for item in items:
        listed = repeat_in_array(item) if repeated and isinstance(item, dict) else None
        if problem is not None:
            yield _Event(None, f"{problem} in the request body", body)
        elif listed is not None:
            yield _Event(None, f"{listed} in the request body",
                         json.dumps(item, ensure_ascii=False, sort_keys=True))
        elif isinstance(item, dict):
            yield _Event(item)
        else:
            yield _Event(None, f"not a JSON object (found {type(item).__name__})",
                         json.dumps(item, ensure_ascii=False, sort_keys=True))


def _line_event(line: str) -> tuple[_Event, bool]:
    """One line of a JSON Lines body, and whether it is JSON at all."""
    try:
        value, problem = _BODY.loads(line)
    except json.JSONDecodeError as exc:
        return _Event(None, f"invalid JSON in request body: {exc.msg}", line), False
    except RecursionError:
        return _Event(None, _TOO_DEEP, line), False
    if problem is None and _BODY.repeated and isinstance(value, dict):
        problem = repeat_in_array(value)
    if problem is not None:
        return _Event(None, problem, line), True
    if not isinstance(value, dict):
        return _Event(None, "not a JSON object", line), True
    return _Event(value), True


register(Reader("har", (".har",), read))
