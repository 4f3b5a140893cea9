"""Generate reference-format benchmark dumps, a ledger and a 10,000-entry directory.

Run as a script::

    python tests/bench/make_dump.py OUT_DIR --events 1000000 [--seed 1]

About 5% of the events carry a violation (identity in a census field, unhashed or
shared ids, undeclared fields, out-of-range values, consent breaches). Types are
kept consistent per field so that pyarrow can read the file for the parse-only
baseline: mistyped values are exercised by the tests, not here.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import uuid
from pathlib import Path

TENANTS = [f"org{i:04d}.example.com" for i in range(400)]
POOLS = [f"pool{i:03d}.example.com" for i in range(100)]
USERS = [f"user{i:05d}" for i in range(20_000)]
DEVICES = [("iPhoneSkype", "iPhone", "iPhoneiOS", "8.3"), ("Teams", "Surface Pro 9", "Windows",
           "10.0.22631"), ("Teams", "Latitude 7440", "Windows", "10.0.2.15"),
           ("TeamsAndroid", "Pixel 8", "Android", "14"), ("SkypeForBusiness", "MacBookPro18,3",
           "macOS", "14.4")]
LANGS = ["EN-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR"]
LOGS = ["SIP/2.0 408 Request Timeout while registering",
        "Media stack: ICE negotiation failed after 3 candidates",
        "Conversation window closed during transfer"]
CODES = ["-2147467259", "0x80004005", "0x8007000E", "503"]


def guid_hash(rng: random.Random) -> str:
    h = hashlib.sha256(rng.randbytes(16)).hexdigest().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _people(count: int) -> list[tuple[str, str]]:
    """(hashed UserID, DeviceID) of a stable population: devices repeat across events."""
    rng = random.Random(12345)
    return [(guid_hash(rng), str(uuid.UUID(bytes=rng.randbytes(16), version=4)).upper())
            for _ in range(count)]


PEOPLE = _people(50_000)


def stamp(rng: random.Random) -> str:
    day = rng.randrange(0, 300)
    month, mday = divmod(day, 28)
    return (f"2026-{month + 1:02d}-{mday + 1:02d}T{rng.randrange(24):02d}:"
            f"{rng.randrange(60):02d}:{rng.randrange(60):02d}Z")


def identities(n: int) -> list[tuple[str, str]]:
    """A directory of n entries: e-mails, usernames, names, phones and the org names."""
    rows = []
    for i in range(n):
        user = USERS[i % len(USERS)] if i < len(USERS) else f"person{i:05d}"
        kind = ("email", "username", "display_name", "phone")[i % 4]
        value = {"email": f"{user}@{TENANTS[i % len(TENANTS)]}", "username": user,
                 "display_name": f"Person{i:05d} Example",
                 "phone": f"+1425555{i % 10000:04d}"}[kind]
        rows.append((kind, value))
    return rows


def event(rng: random.Random, violate: bool) -> dict:
    kind = rng.random()
    if kind < 0.4:
        app, model, os_name, version = rng.choice(DEVICES)
        e = {"category": "census", "time": stamp(rng), "AppName": app, "DeviceModel": model,
             "OSName": os_name, "OSVersion": version, "UserLanguage": rng.choice(LANGS),
             **dict(zip(("UserID", "DeviceID"), rng.choice(PEOPLE), strict=True)),
             "SignInAttempts": rng.randint(1, 5), "SignInFailures": rng.randint(0, 1)}
        if violate:
            choice = rng.randrange(5)
            if choice == 0:
                e["UserID"] = f"{rng.choice(USERS)}@{rng.choice(TENANTS)}"
            elif choice == 1:
                e["DeviceModel"] = f"Person{rng.randrange(10000):05d}'s iPhone"
            elif choice == 2:
                e["DeviceID"] = "00000000-0000-0000-0000-000000000000"
            elif choice == 3:
                e["DeviceID"] = "6F9619FF-8B86-4011-B42D-00C04FC964FF"  # shared by many
            else:
                e["SignInAttempts"] = -1
        return e
    if kind < 0.75:
        client = rng.choice(["desktop", "mobile", "meetings_app", "join_launcher"])
        e = {"category": "usage", "time": stamp(rng), "client": client,
             "IMSent": rng.randint(0, 40), "IMReceived": rng.randint(0, 40),
             "MeetingJoinAttempts": 2, "MeetingJoinSuccess": 1, "CallMinutes": 30.0}
        if client in ("desktop", "mobile"):
            e["tenant"] = rng.choice(TENANTS)
        else:
            e["pool"] = rng.choice(POOLS)
        if violate:
            e["UserEmail" if rng.random() < 0.5 else "FederationPartner"] = \
                f"{rng.choice(USERS)}@{rng.choice(TENANTS)}"
        return e
    client = rng.choice(["desktop", "mobile", "meetings_app"])
    e = {"category": "error", "time": stamp(rng), "client": client,
         "platform": rng.choice(["windows", "mac", "ios", "android"]),
         "MessageDirection": "Incoming", "ConversationState": "Idle",
         "ConversationThreadID": "AdDO8hsJqilU93hQHC3OZaPR2saEA==",
         "ErrorCode": rng.choice(CODES), "ErrorLog": rng.choice(LOGS), "crash": False}
    if client == "meetings_app":
        e["pool"] = rng.choice(POOLS)
    else:
        user = rng.choice(USERS)
        e.update(tenant=rng.choice(TENANTS), UserID=user, ClientIP=f"192.0.2.{rng.randint(1, 254)}",
                 SipUri=f"sip:{user}@example.com")
    if violate:
        e["ErrorLog"] = "retry failed: password=Hunter2! token expired"
    return e


def ledger(rng: random.Random, records: int) -> list[tuple[str, str, str, str, str]]:
    """Org, pool and user switches; most users opted in, most pools enabled."""
    rows = [("pool", pool, "MeetingUxEnableTelemetry", "true", "2026-01-01T00:00:00Z")
            for pool in POOLS[:90]]
    rows += [("user", user, "ErrorReportingOptIn", "true", "2026-01-01T00:00:00Z")
             for user in USERS]
    while len(rows) < records:
        scope = rng.random()
        if scope < 0.5:
            # A few organisations switch tracing off for a while, a few users opt out.
            rows.append(("org", rng.choice(TENANTS), "DisableAutomaticSendTracing",
                         "true" if rng.random() < 0.01 else "false", stamp(rng)))
        else:
            rows.append(("user", rng.choice(USERS), "ErrorReportingOptIn",
                         "false" if rng.random() < 0.01 else "true", stamp(rng)))
    # One record per subject/setting/time: later duplicates would conflict.
    seen: dict[tuple[str, str, str, str], tuple] = {}
    for row in rows:
        seen.setdefault((row[0], row[1], row[2], row[4]), row)
    return list(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ledger-records", type=int, default=100_000)
    parser.add_argument("--identities", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    dump = args.out / f"events-{args.events}.jsonl"
    with dump.open("w", encoding="utf-8") as handle:
        for _ in range(args.events):
            handle.write(json.dumps(event(rng, rng.random() < 0.05)) + "\n")
    with (args.out / "ledger.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["scope", "subject", "setting", "value", "since"])
        # Its own generator: the ledger is the same whatever the number of events.
        writer.writerows(ledger(random.Random(args.seed + 1), args.ledger_records))
    with (args.out / "directory.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["kind", "value"])
        writer.writerows(identities(args.identities))
    print(dump)


if __name__ == "__main__":
    main()
