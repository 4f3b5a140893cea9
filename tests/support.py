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


def write_jsonl(path: Path, events: list[Any]) -> Path:
    """Write events (dicts, or raw strings for broken lines) one per line."""
    path.write_text(
        "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events),
        encoding="utf-8",
    )
    return path
