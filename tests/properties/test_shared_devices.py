"""Hypothesis: a DeviceID copied onto records of more users than allowed is flagged at
exactly those records' lines, and nothing else of the rule is."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_event, write_jsonl

import audit

LIMIT = 3  # the built-in pack's max_users_per_device


def _user(n: int) -> str:
    """A hashed-looking UserID (the hash rules stay quiet)."""
    return str(uuid.UUID(hashlib.sha256(f"user {n}".encode()).hexdigest()[:32])).upper()


@st.composite
def dumps(draw: Any) -> tuple[list[dict[str, Any]], list[int], int]:
    """Census events of random devices, each device used by at most LIMIT users; then one
    new id copied onto K records whose users number more than LIMIT. The events, the
    1-based lines of those K records, and a chunk size."""
    devices = draw(st.lists(st.uuids(version=4), min_size=1, max_size=12, unique=True))
    shared = draw(st.uuids(version=4).filter(lambda u: u not in devices))
    n = draw(st.integers(min_value=LIMIT + 1, max_value=40))
    events = []
    for _ in range(n):
        k = draw(st.integers(min_value=0, max_value=len(devices) - 1))
        # Users of device k: k*LIMIT ... k*LIMIT + LIMIT-1, never more than LIMIT.
        user = k * LIMIT + draw(st.integers(min_value=0, max_value=LIMIT - 1))
        events.append(make_event("census", DeviceID=str(devices[k]).upper(),
                                 UserID=_user(user)))
    at = sorted(draw(st.sets(st.integers(min_value=0, max_value=n - 1), min_size=LIMIT + 1)))
    # More than LIMIT distinct users among the copies (from any pool, repeats allowed).
    users = list(range(1000, 1000 + LIMIT + 1)) + draw(st.lists(
        st.integers(min_value=1000, max_value=1010), min_size=len(at) - LIMIT - 1,
        max_size=len(at) - LIMIT - 1))
    users = draw(st.permutations(users))
    for i, user in zip(at, users, strict=True):
        events[i] = {**events[i], "DeviceID": str(shared).lower(), "UserID": _user(user)}
    return events, [i + 1 for i in at], draw(st.integers(min_value=1, max_value=n))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(dumps())
def test_exactly_the_copied_records_are_flagged(tmp_path_factory: Any,
                                                case: tuple[list[dict[str, Any]], list[int],
                                                            int]) -> None:
    events, lines, chunk_rows = case
    dump = write_jsonl(tmp_path_factory.mktemp("shared") / "dump.jsonl", events)
    report = audit.scan(inputs=str(dump), chunk_rows=chunk_rows, jobs=1)
    found = [f for f in report.findings if f.rule == "census/device-id-not-random"]
    assert [f.line for f in found] == lines
    users = len({events[n - 1]["UserID"] for n in lines})
    assert all(f.detector == "shared-device-id" and f"shared by {users} distinct" in
               f.explanation for f in found)
