"""--stored: a transit capture and a stored dump in one scan, each input read as its
stage; census/not-rehashed-at-rest and error/user-id-linkable-at-rest compare them."""

from __future__ import annotations

import hashlib
import importlib.util
import uuid
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FIXTURES, make_event, write_jsonl

import audit
from audit.renderers.json import report_schema

STAGES = FIXTURES / "dumps" / "stages"
TRANSIT, STORED = STAGES / "transit.jsonl", STAGES / "stored.jsonl"
CENSUS_RULE, ERROR_RULE = "census/not-rehashed-at-rest", "error/user-id-linkable-at-rest"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate", FIXTURES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(report: audit.Report, rule: str) -> list[tuple[str, int]]:
    return [(Path(f.source).name, f.line) for f in report.findings if f.rule == rule]


def test_the_fixture_pair_gives_exactly_the_injected_records(run_cli) -> None:
    _, _, expected = _generator().stage_dumps(31)
    result = run_cli("scan", str(TRANSIT), "--stored", str(STORED), "--format", "json")
    assert result.code == 1, result.err
    report = result.report
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    assert [(i["path"], i["stage"]) for i in report["run"]["inputs"]] == [
        (str(TRANSIT), "transit"), (str(STORED), "stored")]
    for rule, lines in expected.items():
        found = [(Path(f["source"]).name, f["line"]) for f in report["findings"]
                 if f["rule"] == rule]
        assert found == [("stored.jsonl", line) for line in lines], rule
    error = [f for f in report["findings"] if f["rule"] == ERROR_RULE]
    assert all("unsalted sha256(UserID) of the transit cleartext UserID" in
               f["explanation"] for f in error)
    assert not any(name in f["explanation"] for f in error
                   for name in ("amosmarble", "priya.k", "alex.w"))
    # Stored-only rules read the stored dump only; transit findings stay the capture's.
    assert {f["source"] for f in report["findings"]
            if f["rule"] == "error/cleartext-user-id-at-rest"} <= {str(STORED)}


def test_without_both_stages_the_comparisons_are_not_applicable() -> None:
    for kwargs in ({"inputs": str(TRANSIT)}, {"inputs": str(STORED), "stage": "stored"}):
        report = audit.scan(**kwargs, jobs=1)
        outcomes = {o.rule: o for o in report.outcomes}
        for rule in (CENSUS_RULE, ERROR_RULE):
            assert outcomes[rule].status.value == "not_applicable"
            assert "--stored" in (outcomes[rule].reason or "")
        assert all(i["stage"] == report.run["stage"] for i in report.run["inputs"])


def test_the_stored_stage_rules_run_on_stored_inputs_only(tmp_path: Path) -> None:
    """The error UserID is cleartext in transit (allowed) and must be hashed at rest."""
    event = make_event("error", client="desktop", tenant="contoso.com", platform="windows",
                       UserID="amosmarble")
    sent = write_jsonl(tmp_path / "sent.jsonl", [event])
    kept = write_jsonl(tmp_path / "kept.jsonl", [event])
    report = audit.scan(inputs=str(sent), stored=(str(kept),), jobs=1)
    assert _lines(report, "error/cleartext-user-id-at-rest") == [("kept.jsonl", 1)]


def _hashed(n: int) -> str:
    return str(uuid.UUID(hashlib.sha256(f"user {n}".encode()).hexdigest()[:32])).upper()


@st.composite
def pairs(draw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int],
                              list[int], int]:
    """Census and error events sent, and the same events as stored: census UserIDs hashed
    again and error UserIDs with a keyed hash, except for some records stored as sent
    (census) or as an unsalted digest of the sent UserID (error)."""
    users = draw(st.lists(st.from_regex(r"[a-z]{3,8}\.[a-z]{2,8}", fullmatch=True),
                          min_size=1, max_size=5, unique=True))
    sent, kept, census_lines, error_lines = [], [], [], []
    for i in range(draw(st.integers(1, 25))):
        if draw(st.booleans()):
            user_id = _hashed(draw(st.integers(0, 30)))
            sent.append(make_event("census", UserID=user_id))
            same = draw(st.integers(0, 4)) == 0
            kept.append(make_event("census", UserID=user_id if same else _hashed(1000 + i)))
            if same:
                census_lines.append(i + 1)
        else:
            user = draw(st.sampled_from(users))
            user = draw(st.sampled_from([user, user.capitalize()]))
            sent.append(make_event("error", client="desktop", tenant="contoso.com",
                                   platform="windows", UserID=user))
            alg = draw(st.sampled_from(["md5", "sha1", "sha256", "sha512", None]))
            # As sent, lower-case (variants of it) or in capitals (no variant of any).
            source = draw(st.sampled_from([user, user.lower(), user.upper()]))
            stored = hashlib.new(alg, source.encode()).hexdigest() if alg else \
                hashlib.sha256(b"secret" + user.encode()).hexdigest()
            if source == user.upper():
                alg = None
            kept.append(make_event("error", client="desktop", tenant="contoso.com",
                                   platform="windows", UserID=stored))
            if alg:
                error_lines.append(i + 1)
    return sent, kept, census_lines, error_lines, draw(st.integers(1, 25))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pairs())
def test_exactly_the_records_stored_without_a_secret(tmp_path_factory: Any, case: Any) -> None:
    sent, kept, census_lines, error_lines, chunk_rows = case
    folder = tmp_path_factory.mktemp("stages")
    transit, stored = write_jsonl(folder / "t.jsonl", sent), write_jsonl(folder / "s.jsonl", kept)
    report = audit.scan(inputs=str(transit), stored=(str(stored),), chunk_rows=chunk_rows,
                        jobs=1)
    assert _lines(report, CENSUS_RULE) == [("s.jsonl", line) for line in census_lines]
    assert _lines(report, ERROR_RULE) == [("s.jsonl", line) for line in error_lines]
