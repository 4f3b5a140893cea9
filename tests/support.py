"""Shared paths and event builders for the tests (import with ``from support import ...``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLE = FIXTURES / "dumps" / "sample.jsonl"
CLEAN = FIXTURES / "dumps" / "clean.jsonl"
LEDGER = FIXTURES / "policy.csv"
DIRECTORY = FIXTURES / "directory.csv"
RULES = ROOT / "rules"


def make_event(category: str = "census", **fields: Any) -> dict[str, Any]:
    """A valid reference-format event of a category; keyword fields override or add."""
    base: dict[str, dict[str, Any]] = {
        "census": {
            "category": "census",
            "time": "2026-03-02T10:00:00Z",
            "AppName": "iPhoneSkype",
            "DeviceModel": "iPhone",
            "OSName": "iPhoneiOS",
            "OSVersion": "8.3",
            "UserLanguage": "EN-US",
            "UserID": "E296D735-4F36-4E18-7C3B-52E1A02A0164",
            "DeviceID": "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
            "SignInAttempts": 2,
            "SignInFailures": 0,
        },
        "usage": {
            "category": "usage",
            "time": "2026-03-02T10:00:00Z",
            "client": "desktop",
            "tenant": "contoso.com",
            "IMSent": 12,
            "IMReceived": 5,
            "MeetingJoinAttempts": 5,
            "MeetingJoinSuccess": 4,
            "CallMinutes": 30,
            "FederationPartner": "Microsoft.com",
        },
        "error": {
            "category": "error",
            "time": "2026-03-02T10:00:00Z",
            "client": "meetings_app",
            "pool": "pool01.contoso.com",
            "platform": "web",
            "MessageDirection": "Incoming",
            "ConversationState": "Idle",
            "ConversationThreadID": "AdDO8hsJqilU93hQHC3OZaPR2saEA==",
            "ErrorCode": "0x80004005",
        },
    }
    event = dict(base[category])
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def scan_events(events: list[Any], **kwargs: Any) -> Any:
    """``audit.scan`` of the events written as one JSON Lines dump in a temporary folder
    (keyword arguments go to the scan): for property tests, which run many examples and
    cannot use a function-scoped ``tmp_path``."""
    import tempfile

    import audit

    with tempfile.TemporaryDirectory() as tmp:
        dump = write_jsonl(Path(tmp) / "dump.jsonl", events)
        return audit.scan(inputs=str(dump), **kwargs)


def write_jsonl(path: Path, events: list[Any]) -> Path:
    """Write events (dicts, or raw strings for broken lines) one per line."""
    path.write_text(
        "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events),
        encoding="utf-8",
    )
    return path


#: Where 1DS SDKs post Common Schema events (an invented host of the same shape).
ONECOLLECTOR = "https://mobile.events.data.example.com/OneCollector/1.0/"
JSON_STREAM = "application/x-json-stream"


def json_stream(events: list[Any]) -> bytes:
    """A 1DS request body: one event per line (dicts, or raw strings for broken lines)."""
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n"
                   for e in events).encode("utf-8")


def compress(body: bytes, coding: str) -> bytes:
    """``body`` encoded as a ``Content-Encoding`` says (``"gzip, br"``: gzip, then br);
    ``raw-deflate`` is deflate without the zlib wrapper some clients send."""
    import gzip
    import zlib

    import brotli

    for name in (c.strip() for c in coding.split(",")):
        if name == "gzip":
            body = gzip.compress(body, mtime=0)
        elif name == "deflate":
            body = zlib.compress(body)
        elif name == "raw-deflate":
            packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body = packer.compress(body) + packer.flush()
        elif name == "br":
            body = brotli.compress(body, quality=5)
        elif name != "identity":
            raise ValueError(f"no encoder for {name!r}")
    return body


def har_post(body: bytes | str, *, coding: str | None = None, mime: str | None = JSON_STREAM,
             base64_body: bool = True, method: str = "POST", url: str = ONECOLLECTOR
             ) -> dict[str, Any]:
    """A HAR entry posting ``body`` (bytes are base64'd unless ``base64_body`` is false,
    then written as Latin-1 text, as some exporters write binary bodies), with a
    ``Content-Encoding`` header when ``coding`` is given."""
    import base64

    headers = [{"name": "Host", "value": "mobile.events.data.example.com"}]
    if coding is not None:
        headers.append({"name": "content-encoding", "value": coding})
    data: dict[str, Any] = {}
    if mime is not None:
        data["mimeType"] = mime
    if isinstance(body, bytes) and base64_body:
        data["text"], data["encoding"] = base64.b64encode(body).decode("ascii"), "base64"
    else:
        data["text"] = body if isinstance(body, str) else body.decode("latin-1")
    return {"startedDateTime": "2026-03-02T10:00:00.000Z",
            "request": {"method": method, "url": url, "httpVersion": "HTTP/1.1",
                        "headers": headers, "postData": data},
            "response": {"status": 200, "content": {"size": 0, "mimeType": "text/plain"}}}


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    """A HAR 1.2 capture of ``entries``."""
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test"},
                                        "entries": entries}}), "utf-8")
    return path
