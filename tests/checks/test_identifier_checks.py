"""The identifier check kinds: hashed user ids, random device ids (per record and shared)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from support import make_event

import audit
from audit.checks.identifiers import user_id_problem
from audit.detectors import load_identities

ROOT = Path(__file__).resolve().parents[2]
DIRECTORY = load_identities(str(ROOT / "fixtures" / "directory.csv"))
EMAIL = "amos.marble@contoso.com"


def _hex(alg: str, text: str) -> str:
    return hashlib.new(alg, text.encode()).hexdigest()


def _guid(hexdigest: str) -> str:
    h = hexdigest
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (EMAIL, "an e-mail address, not a hash"),
        ("sip:amos.marble@contoso.com", "a SIP URI, not a hash"),
        ("amosmarble", "plain text"),
        ("Amos Marble", "a name"),
        ("00000000-0000-0000-0000-000000000000", "nil GUID"),
        ("C232AB00-9414-11EC-B3C8-9F6BDECED846", "version 1 GUID"),
        ("1234abcd", "hex string shorter"),
    ],
)
def test_not_a_hash_without_a_directory(value: str, why: str) -> None:
    problem = user_id_problem(value)
    assert problem is not None and why in problem[1]
    assert value not in problem[1]


@pytest.mark.parametrize(
    "value",
    [
        "E296D735-4F36-4E18-7C3B-52E1A02A0164",  # the practices' example
        "5E872200-F546-4CCD-8F23-AF5F507AA2DD",
        _hex("sha256", "salt:" + EMAIL),
        _hex("sha256", EMAIL),  # linkable, but only a directory can tell
        "7b9a1c52-3e44-4d6f-9a0b-2c6d8e1f4a37",
    ],
)
def test_hash_shaped_values_pass_without_a_directory(value: str) -> None:
    assert user_id_problem(value) is None


@pytest.mark.parametrize(
    ("value", "form"),
    [
        (_hex("sha256", EMAIL), "unsalted sha256(email) of a known identity (an e-mail address"),
        (_hex("sha1", "amos marble").upper(), "upper(sha1(lower(display_name)))"),
        (_guid(_hex("md5", "amosmarble")), "unsalted guid(md5(username))"),
        (_hex("md5", _hex("md5", EMAIL)), "unsalted md5(md5(email))"),
        (_hex("sha512", "priya.k"), "unsalted sha512(username)"),
        ("7b9a1c52-3e44-4d6f-9a0b-2c6d8e1f4a37", "a known directory object id"),
        ("amosmarble", "a user name of the directory"),
    ],
)
def test_linkable_with_a_directory(value: str, form: str) -> None:
    problem = user_id_problem(value, DIRECTORY)
    assert problem is not None
    assert problem[0] == "known-identity"
    assert form in problem[1], problem[1]
    assert value not in problem[1]


def test_salted_digest_passes_with_a_directory() -> None:
    assert user_id_problem(_hex("sha256", "pepper|" + EMAIL), DIRECTORY) is None


def _census(**fields: Any) -> dict[str, Any]:
    return make_event("census", **fields)


def _scan(tmp_path: Path, events: list[dict[str, Any]], **kwargs: Any) -> list[audit.Finding]:
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps(e) + "\n" for e in events), "utf-8")
    report = audit.scan(inputs=str(dump), **kwargs)
    return [f for f in report.findings if f.rule == "census/device-id-not-random"]


def _users(n: int) -> list[str]:
    return [_guid(_hex("sha256", f"u{i}")).upper() for i in range(n)]


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_shared_device_over_the_limit_across_chunks(tmp_path: Path, chunk_rows: int) -> None:
    device = "6F9619FF-8B86-4011-B42D-00C04FC964FF"
    users = _users(4)
    events = [_census(DeviceID=device, UserID=u) for u in users]
    events.insert(2, _census(DeviceID=device, UserID=users[0]))  # a repeat: same pair
    found = _scan(tmp_path, events, chunk_rows=chunk_rows)
    assert [f.line for f in found] == [1, 2, 3, 4, 5]  # the repeated pair's record too
    assert all("shared by 4 distinct UserIDs" in f.explanation for f in found)
    assert all(device not in f.message and device not in (f.evidence or "") for f in found)


def test_a_family_tablet_is_not_shared_too_widely(tmp_path: Path) -> None:
    device = "0F8FAD5B-D9CB-469F-A165-70867728950E"
    events = [_census(DeviceID=device, UserID=u) for u in _users(3)]
    events.append(_census(DeviceID=device, UserID=None))
    assert _scan(tmp_path, [{k: v for k, v in e.items() if v is not None} for e in events]) == []


def test_per_record_problems_are_one_finding_each(tmp_path: Path) -> None:
    events = [
        _census(DeviceID="00000000-0000-0000-0000-000000000000"),
        _census(DeviceID="00000000-0000-0000-0000-000000000000"),
        _census(DeviceID="C232AB00-9414-11EC-B3C8-1A2B3C4D5E6F"),
        _census(DeviceID="C02XK1JHJG5J"),
        _census(DeviceID="5E872200-F546-4CCD-8F23-AF5F507AA2DD"),
    ]
    found = _scan(tmp_path, events, chunk_rows=2)
    assert [(f.line, f.field) for f in found] == [(i, "DeviceID") for i in (1, 2, 3, 4)]
    assert "nil GUID" in found[0].explanation
    assert "MAC address" in found[2].explanation
    assert "serial" in found[3].explanation


def test_remembered_asks_only_about_values_it_has_not_seen(monkeypatch) -> None:
    from audit.checks import identifiers

    asked: list[list[str]] = []

    def examine(values: list[str]) -> list[str | None]:
        asked.append(values)
        return [None if v.startswith("ok") else f"bad {v}" for v in values]

    monkeypatch.setattr(identifiers, "MEMO_LIMIT", 3)
    memo: dict = {}
    first = identifiers.remembered(memo, ["ok1", "x", "ok2", "y"], examine)
    again = identifiers.remembered(memo, ["y", "ok1", "z"], examine)
    assert first == [None, "bad x", None, "bad y"] and again == ["bad y", None, "bad z"]
    assert asked == [["ok1", "x", "ok2", "y"], ["y", "z"]]  # y: past the memo's limit
    assert len(memo) == 3


def test_remembered_gives_up_on_ids_that_never_come_back(monkeypatch) -> None:
    """A fresh id on every record: after a chunk of mostly new values the memo is emptied
    and no longer asked, and every answer is still right."""
    from audit.checks import identifiers
    from audit.detectors import scan

    asked: list[int] = []

    def examine(values: list[str]) -> list[str | None]:
        asked.append(len(values))
        return [None if v.startswith("ok") else f"bad {v}" for v in values]

    monkeypatch.setattr(scan, "REPEATS_MIN", 10)
    memo: dict = {}
    chunks = [[f"ok{c}-{i}" if i % 2 else f"id{c}-{i}" for i in range(40)] for c in range(3)]
    answers = [identifiers.remembered(memo, chunk, examine) for chunk in chunks]
    assert answers == [[None if v.startswith("ok") else f"bad {v}" for v in chunk]
                       for chunk in chunks]
    assert asked == [40, 40, 40]
    assert list(memo) == [scan._UNIQUE]  # the values themselves were let go
    # Values that do come back keep the memo (the first test above): only new ones asked.
    memo = {}
    identifiers.remembered(memo, chunks[0], examine)
    identifiers.remembered(memo, [*chunks[0][:35], "new1", "new2"], examine)
    assert asked[-1] == 2 and scan._UNIQUE not in memo


def test_bad_device_ids_are_not_kept_as_cross_record_state() -> None:
    """However many records carry a bad id, the rule's state holds only the distinct
    (device, user) pairs and the record lines of good ids: the bad ones are findings of
    their chunk."""
    import numpy as np
    import pandas as pd

    from audit.checks.identifiers import collect_devices, user_keys
    from audit.context import ScanContext
    from audit.model import Stage

    pack = audit.load_rule_pack()
    rule = pack.rules["census/device-id-not-random"]
    good = "5E872200-F546-4CCD-8F23-AF5F507AA2DD"
    events = pd.DataFrame({"DeviceID": ["00000000-0000-0000-0000-000000000000"] * 500
                           + [good] * 3, "UserID": ["u1"] * 500 + ["u1", "u2", "u1"]},
                          index=range(10, 513))
    meta = pd.DataFrame({"source": "dump.jsonl", "line": events.index + 1},
                        index=events.index)
    ctx = ScanContext(stage=Stage.TRANSIT, key=b"k", rulepack=pack)
    found, state = collect_devices(rule, events, meta, ctx)
    assert len(found) == 500 and list(found.index[:2]) == [10, 11]
    assert state.devices.tolist() == [good] and state.sources.tolist() == ["dump.jsonl"]
    pairs = zip(state.pair_device.tolist(), state.pair_user.tolist(), strict=True)
    keys = user_keys(np.array(["u1", "u2"], dtype=object)).tolist()
    assert sorted(pairs) == sorted([(0, keys[0]), (0, keys[1])]) and keys[0] != keys[1]
    assert state.line.tolist() == [511, 512, 513] and state.device.tolist() == [0, 0, 0]


SHARED = "one DeviceID shared by 4 distinct UserIDs (more than 3): not generated once per device"


@pytest.mark.parametrize("chunk_rows", [1, 3, 1000])
def test_every_record_of_a_shared_device_is_a_finding_at_its_line(tmp_path: Path,
                                                                   chunk_rows: int) -> None:
    """Ten records of one id and four users (one user on four of them, between a family
    tablet's records): ten findings, one at each of the ten lines, none elsewhere."""
    device, tablet = "6F9619FF-8B86-4011-B42D-00C04FC964FF", "0F8FAD5B-D9CB-469F-A165-70867728950E"
    users = _users(4)
    shared = [0, 1, 0, 2, 1, 3, 0, 2, 1, 0]
    events, lines = [], []
    for k, user in enumerate(shared):
        events.append(_census(DeviceID=device, UserID=users[user]))
        lines.append(len(events))
        if k % 3 == 2:  # a family tablet of three users in between: fine
            events.append(_census(DeviceID=tablet, UserID=users[k % 3 + 1]))
    found = _scan(tmp_path, events, chunk_rows=chunk_rows)
    assert len(events) == 13 and len(set(lines)) == 10
    assert [f.line for f in found] == lines
    assert all(f.explanation == SHARED and f.detector == "shared-device-id" for f in found)
    assert {f.source for f in found} == {str(tmp_path / "dump.jsonl")}
    assert all(device not in f.message and device not in (f.evidence or "") for f in found)


def test_a_record_without_a_user_still_carries_the_shared_id(tmp_path: Path) -> None:
    device = "6F9619FF-8B86-4011-B42D-00C04FC964FF"
    events = [_census(DeviceID=device, UserID=u) for u in _users(4)]
    events.insert(1, {k: v for k, v in _census(DeviceID=device).items() if k != "UserID"})
    assert [f.line for f in _scan(tmp_path, events, chunk_rows=2)] == [1, 2, 3, 4, 5]


def _shared_findings(report: audit.Report) -> list[tuple[str, int, str, str | None]]:
    return [(Path(f.source).name, f.line, f.explanation, f.evidence) for f in report.findings
            if f.detector == "shared-device-id"]


def test_parts_in_processes_find_the_same_shared_device_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shared id whose records fall into every part of a cut file and into another
    file: the same findings from two processes as from one."""
    from audit import parallel

    device = "6F9619FF-8B86-4011-B42D-00C04FC964FF"
    users = _users(6)
    fine = [_census(DeviceID=str(uuid.UUID(_hex("md5", f"d{i}"), version=4)).upper(),
                    UserID=users[i % 6]) for i in range(90)]
    for at, user in ((3, 0), (40, 1), (41, 2), (60, 0), (88, 3)):
        fine[at] = _census(DeviceID=device, UserID=users[user])
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "a.jsonl").write_text("".join(json.dumps(e) + "\n" for e in fine), "utf-8")
    (folder / "b.jsonl").write_text(json.dumps(_census(DeviceID=device, UserID=users[5]))
                                    + "\n", "utf-8")
    monkeypatch.setattr(parallel, "SPLIT_MIN_BYTES", 0)
    assert len([u for u in parallel.plan(sorted(folder.iterdir()), 2) if u.part]) >= 2
    one = audit.scan(inputs=str(folder), jobs=1, chunk_rows=7)
    two = audit.scan(inputs=str(folder), jobs=2, chunk_rows=7)
    explanation = SHARED.replace("4 distinct", "5 distinct")
    assert [(s, n, e) for s, n, e, _ in _shared_findings(one)] == [
        ("a.jsonl", 4, explanation), ("a.jsonl", 41, explanation),
        ("a.jsonl", 42, explanation), ("a.jsonl", 61, explanation),
        ("a.jsonl", 89, explanation), ("b.jsonl", 1, explanation)]
    assert _shared_findings(two) == _shared_findings(one)
    assert not [f for f in one.findings if f.rule == "census/device-id-not-random"
                and f.detector != "shared-device-id"]  # the other ids are random GUIDs
