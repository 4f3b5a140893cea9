"""HAR captures: the JSON bodies of requests posted to telemetry endpoints.

A body may hold one event object, an array of events, an envelope with an ``events``
array, or one event per line (JSON Lines, 1DS's ``application/x-json-stream``). It may
be base64 (``postData.encoding``) and compressed as its request's ``Content-Encoding``
header says (gzip, deflate, br, or a chain of them): both are undone here, the
decompression bounded (:mod:`audit.readers.encodings`). The line of a record is its
1-based index among all events of the capture (a HAR has no useful lines); which
request it came from, and where in that body, is given by the spans of the entries
(:class:`~audit.readers.EntrySpan`), appended to ``spans`` when the caller asks.

A POST or PUT body that cannot be audited is one rejected record, not nothing: a
capture of bodies this tool cannot read (Bond compact binary, protobuf, an encoding that
does not decode or decodes past the limits) must not look like a capture with no
telemetry in it. Requests of other methods and empty bodies carry no telemetry and are
left out.

A capture is walked as it is read (:class:`~audit.readers.json_array.JsonText`), never
loaded whole: responses, timings and whatever else an entry holds are stepped over
without being kept, so a capture of any size costs about one request body. A body longer
than ``--limit record-bytes`` is one rejected record, streamed through. A file that is
not a HAR (not JSON, no ``log.entries`` list) cannot be read at all; where the JSON
breaks after the first entries, the records given stand and the rest of the file is one
rejected record.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import IO, Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from audit.fingerprint import printable
from audit.limits import DEFAULT_LIMITS, Limits
from audit.readers import (
    EntrySpan,
    RawRecord,
    Reader,
    Repeated,
    StrictJSON,
    register,
    reject,
    repeat_in_array,
    too_long,
)
from audit.readers.encodings import MAX_CODINGS, Undecodable, codings, decode
from audit.readers.json_array import Broken, JsonText, TooLong

POST_METHODS = frozenset({"POST", "PUT"})
_JSON = StrictJSON()
_BODY = StrictJSON(repeats=True)  # events that repeat a key are audited with each value
_TOO_DEEP = "invalid JSON in request body: nested too deeply"
#: A body of bytes that are not text (Bond, protobuf): followed by its content type.
BINARY_BODY = "not auditable: binary body"
NOT_BASE64 = "not auditable: request body is not valid base64"
_NO_ENTRIES = "no log.entries list"
#: Characters no JSON text holds outside a string, nor unescaped inside one: a body of
#: text with one of them is binary data (Bond's field headers are such bytes).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: A URL is kept to this many characters in reports.
URL_CHARS = 300
#: Characters kept of a Content-Encoding header's value.
_HEADER_CHARS = 256


class _Event(NamedTuple):
    """One event of a body: its data, or what is wrong and the text that identifies it."""

    data: dict[str, Any] | None
    error: str | None = None
    content: str = ""
    digest: str | None = None  # instead of the content, for a body streamed through


class _Request(NamedTuple):
    """What an entry's request holds that matters here (a body over the limit is its
    digest). ``entry`` is the entry's 1-based place in ``log.entries``."""

    entry: int
    url: str
    method: str
    mime: str
    encoding: str  # the Content-Encoding headers, joined
    body: str | TooLong | None
    base64_encoded: bool


def read(stream: IO[bytes], *, limits: Limits = DEFAULT_LIMITS,
         spans: list[EntrySpan] | None = None) -> Iterator[RawRecord]:
    """Yield each event of each request body posted; with ``spans``, append the span of
    each entry that gave records before yielding them."""
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
                for request in _requests(text):
                    events = _request_events(request, limits)
                    if not events:
                        continue
                    if spans is not None:
                        spans.append(EntrySpan(request.entry, request.url, index + 1,
                                               len(events)))
                    for event in events:
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


def _elements(text: JsonText) -> Iterator[int]:
    """The 1-based places of the elements of the array at ``position``; at each, the
    caller reads or skips the element."""
    text.expect("[")
    if text.peek() == "]":
        text.position += 1
        return
    number = 0
    while True:
        number += 1
        yield number
        after = text.peek()
        text.position += 1
        if after == "]":
            return
        if after != ",":
            raise Broken("expected ',' or ']' between the elements of an array")


def _requests(text: JsonText) -> Iterator[_Request]:
    """The requests of the entries array at ``position`` that may carry telemetry."""
    for entry in _elements(text):
        if text.peek() == "{":
            request = _entry(text, entry)
            if request is not None:
                yield request
        else:
            text.skip()


def _entry(text: JsonText, entry: int) -> _Request | None:
    """An entry's request, when it is a POST or PUT with a body; the rest stepped over."""
    found: _Request | None = None
    for key in text.members(_JSON):
        if key == "request" and text.peek() == "{":
            found = _request(text, entry)
        else:
            text.skip()
    return found


def _request(text: JsonText, entry: int) -> _Request | None:
    method = mime = header_type = url = ""
    encodings: list[str] = []
    body: str | TooLong | None = None
    base64_encoded = False
    for key in text.members(_JSON):
        if key == "method":
            method = _string(text)
        elif key == "url":
            url = _string(text)
        elif key == "headers" and text.peek() == "[":
            for name, value in _headers(text):
                if name == "content-encoding" and len(encodings) <= MAX_CODINGS:
                    encodings.append(value[:_HEADER_CHARS])  # enough to see too many
                elif name == "content-type":
                    header_type = value
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
    return _Request(entry, _url_text(url), method, mime or header_type.strip(),
                    ", ".join(encodings), body, base64_encoded)


def _headers(text: JsonText) -> Iterator[tuple[str, str]]:
    """The ``(name in lower case, value)`` of each header of the list at ``position``."""
    for _ in _elements(text):
        if text.peek() != "{":
            text.skip()
            continue
        name = value = ""
        for key in text.members(_JSON):
            if key == "name":
                name = _string(text)
            elif key == "value":
                value = _string(text)
            else:
                text.skip()
        yield name.strip().lower(), value


def _string(text: JsonText) -> str:
    """A short string value (a method, a content type), or "" for anything else."""
    try:
        value, _, _ = text.value(_JSON)
    except TooLong:
        return ""
    return value if isinstance(value, str) else ""


def _url_text(url: str) -> str:
    """The URL as reports show it: without its query, fragment and user info (they may
    carry keys and identifiers), cut to :data:`URL_CHARS`."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # IPv6
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        kept = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:  # an invalid port or IPv6 address: keep what comes before a query
        kept = re.split(r"[?#]", url.strip(), maxsplit=1)[0]
    kept = " ".join(printable(kept).split())
    return kept if len(kept) <= URL_CHARS else kept[:URL_CHARS - 1] + "…"


def _type_text(mime: str) -> str:
    """A content type as a reason quotes it: one short line."""
    shown = " ".join(printable(mime).split())[:100]
    return shown or "no content type"


def _request_events(request: _Request, limits: Limits) -> list[_Event]:
    """The events of one request's body, decoded as its request says: a body over the
    limit, not valid base64, whose declared encoding does not decode (within the limits),
    or that is not text, is one rejected record."""
    body = request.body
    if isinstance(body, TooLong):
        return [_Event(None, too_long(limits), digest=body.digest)]
    if body is None or not body.strip():
        return []
    applied = codings(request.encoding)
    if request.base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):  # ValueError: text that is not ASCII
            return [_Event(None, NOT_BASE64, body)]
    elif applied:
        raw = _bytes_of(body)
    else:
        return _text_events(body, request.mime)
    if applied:
        try:
            raw = decode(raw, applied, limits)
        except Undecodable as exc:
            return [_Event(None, f"not auditable: {exc}", body)]
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return [_binary(request.mime, body)]
    return _text_events(decoded.removeprefix("\ufeff"), request.mime)


def _bytes_of(body: str) -> bytes:
    """The bytes of a compressed body given as text rather than base64: exporters that do
    so write each byte as the character of that code (Latin-1); other text as UTF-8 (it
    will not decode, and says so)."""
    try:
        return body.encode("latin-1")
    except UnicodeEncodeError:
        return body.encode("utf-8", "surrogatepass")


def _binary(mime: str, body: str) -> _Event:
    return _Event(None, f"{BINARY_BODY} ({_type_text(mime)})", body)


def _text_events(body: str, mime: str) -> list[_Event]:
    """The events of a body of text; one whose content type does not say JSON and that
    holds control characters is binary."""
    if not body.strip():
        return []
    if "json" not in mime.lower() and _CONTROL.search(body):
        return [_binary(mime, body)]
    return list(_events(body, mime))


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
            yield _Event(None, f"not auditable: request body is not JSON ({_type_text(mime)})",
                         body)
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


register(Reader("har", (".har",), read, located=True))
