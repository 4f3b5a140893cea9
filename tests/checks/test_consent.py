"""The consent check kind: as-of decisions at the boundaries, gates' selectors, stages, timeline."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import audit.rulepack
from audit.checks import CHECK_KINDS
from audit.context import ScanContext
from audit.errors import NotTested, RuleFileError
from audit.fingerprint import mask
from audit.ledger import Ledger, load_ledger
from audit.model import Severity, Stage
from audit.rulepack import Gate, Rule, RulePack

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ledgers"
HEADER = "scope,subject,setting,value,since\n"
KIND = CHECK_KINDS["consent"]


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return audit.rulepack.load()


def ledger_from(text: str, pack: Any) -> Ledger:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.csv"
        path.write_text(HEADER + text, encoding="utf-8")
        return load_ledger(path, pack)


def context(pack: Any, ledger: Ledger | None, stage: Stage = Stage.TRANSIT) -> ScanContext:
    return ScanContext(stage=stage, key=b"k", ledger=ledger, rulepack=pack)


def run(rule_id: str, events: pd.DataFrame, ctx: ScanContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    rule = ctx.rulepack.rules[rule_id]
    found, stats = KIND.func(rule, events, ctx)
    return found, stats


def usage(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {"category": "usage", "client": "desktop"}
    return pd.DataFrame([{**base, **r} for r in rows])


def error(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {"category": "error", "client": "desktop", "platform": "windows", "crash": False}
    return pd.DataFrame([{**base, **r} for r in rows])


# -- registration ---------------------------------------------------------------------


def test_kind_declares_its_needs_and_summary() -> None:
    assert KIND.needs == frozenset({"ledger"})
    assert KIND.summarize is not None
    assert not KIND.aggregate
    assert KIND.params_schema["required"] == ["gate"]


def test_contract_rules_use_the_kind(pack: RulePack) -> None:
    expected = {
        "usage/collected-while-disabled": "org-tracing",
        "usage/meeting-telemetry-disabled": "pool-telemetry",
        "error/no-opt-in": "user-opt-in",
        "error/collected-while-disabled": "org-tracing",
        "error/meeting-telemetry-disabled": "pool-telemetry",
        "error/watson-disabled": "watson",
    }
    for rule_id, gate in expected.items():
        rule = pack.rules[rule_id]
        assert rule.kind == "consent"
        assert rule.params["gate"] == gate
        assert gate in pack.categories[rule.category].gates
        assert rule.severity in (Severity.CRITICAL, Severity.HIGH)
        assert rule.policy in pack.categories[rule.category].statements


def test_unknown_gate_is_a_rule_file_error(pack: RulePack) -> None:
    rule = Rule(id="usage/x", category="usage", kind="consent", severity=Severity.HIGH,
                title="t", message="m", params=MappingProxyType({"gate": "watson"}),
                path="rules/usage.yaml", line=99)
    ledger = ledger_from("", pack)
    with pytest.raises(RuleFileError, match=r"rules/usage.yaml:99: .*'watson' is not a consent"):
        KIND.func(rule, usage({"tenant": "a.com", "time": "2026-01-01T00:00:00Z"}),
                  context(pack, ledger))


# -- as-of boundaries -----------------------------------------------------------------

TRACING = (
    "org,fabrikam.com,DisableAutomaticSendTracing,true,2026-02-01T00:00:00Z\n"    # line 2
    "org,fabrikam.com,DisableAutomaticSendTracing,false,2026-03-01T00:00:00Z\n"   # line 3
    "org,fabrikam.com,DisableAutomaticSendTracing,true,2026-04-01T00:00:00Z\n"    # line 4
    "org,contoso.com,DisableAutomaticSendTracing,true,2026-03-15T00:00:00Z\n"     # line 5
)


def test_event_exactly_at_since_uses_that_record(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    found, _ = run("usage/collected-while-disabled", usage(
        {"tenant": "fabrikam.com", "time": "2026-02-01T00:00:00Z"},          # on: flagged
        {"tenant": "fabrikam.com", "time": "2026-03-01T00:00:00Z"},          # back off: fine
        {"tenant": "fabrikam.com", "time": "2026-02-01T01:00:00+01:00"},     # same instant
    ), ctx)
    assert found.index.tolist() == [0, 2]
    assert found["explanation"].iat[0] == (
        "DisableAutomaticSendTracing was true since 2026-02-01T00:00:00Z (ledger line 2); "
        "sending requires false"
    )
    assert found["field"].isna().all()
    assert found["detector"].tolist() == ["ledger", "ledger"]
    assert found["value"].tolist() == ["fabrikam.com", "fabrikam.com"]


def test_before_the_first_record_the_default_holds(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    found, _ = run("usage/collected-while-disabled", usage(
        {"tenant": "fabrikam.com", "time": "2026-01-31T23:59:59.999Z"},
    ), ctx)
    assert found.empty
    pools = ledger_from("pool,p1.contoso.com,MeetingUxEnableTelemetry,true,2026-02-01\n", pack)
    found, _ = run("usage/meeting-telemetry-disabled", usage(
        {"client": "meetings_app", "pool": "p1.contoso.com", "time": "2026-01-31T23:59:59Z"},
        {"client": "join_launcher", "pool": "p2.contoso.com", "time": "2026-06-01T00:00:00Z"},
        {"client": "meetings_app", "pool": "p1.contoso.com", "time": "2026-02-01T00:00:00Z"},
    ), context(pack, pools))
    assert found.index.tolist() == [0, 1]
    assert found["explanation"].tolist() == [
        "MeetingUxEnableTelemetry was false (default: before the first ledger record for this "
        "pool); sending requires true",
        "MeetingUxEnableTelemetry was false (default: no ledger record for this pool); "
        "sending requires true",
    ]


def test_on_off_on_switches(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    times = ["2026-01-15", "2026-02-15", "2026-03-15", "2026-04-15", "2026-03-31T23:59:59Z"]
    found, stats = run("usage/collected-while-disabled", usage(
        *({"tenant": "fabrikam.com", "time": t} for t in times)
    ), ctx)
    assert found.index.tolist() == [1, 3]
    lines = [e.split("(")[1][:13] for e in found["explanation"]]
    assert lines == ["ledger line 2", "ledger line 4"]
    counts = stats.set_index("line")[["events", "violations"]].to_dict("index")
    assert counts == {-1: {"events": 1, "violations": 0}, 2: {"events": 1, "violations": 1},
                      3: {"events": 2, "violations": 0}, 4: {"events": 1, "violations": 1}}


def test_same_setting_for_two_subjects(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    found, _ = run("usage/collected-while-disabled", usage(
        {"tenant": "contoso.com", "time": "2026-03-10T00:00:00Z"},     # contoso not yet
        {"tenant": "fabrikam.com", "time": "2026-03-20T00:00:00Z"},    # fabrikam off again
        {"tenant": "Contoso.com", "time": "2026-03-20T00:00:00Z"},     # contoso now disabled
        {"tenant": "fabrikam.com", "time": "2026-02-20T00:00:00Z"},    # fabrikam disabled
    ), ctx)
    assert found.index.tolist() == [2, 3]
    assert found["value"].tolist() == ["contoso.com", "fabrikam.com"]
    assert "ledger line 5" in found["explanation"].iat[0]
    assert "ledger line 2" in found["explanation"].iat[1]


def test_gate_selectors_limit_the_rows(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    found, _ = run("usage/collected-while-disabled", usage(
        {"client": "meetings_app", "tenant": "fabrikam.com", "pool": "x",
         "time": "2026-02-15T00:00:00Z"},
        {"client": "mobile", "tenant": "fabrikam.com", "time": "2026-02-15T00:00:00Z"},
    ), ctx)
    assert found.index.tolist() == [1]


def test_undecidable_rows_are_skipped(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    events = usage(
        {"tenant": None, "time": "2026-02-15T00:00:00Z"},
        {"tenant": "", "time": "2026-02-15T00:00:00Z"},
        {"tenant": "fabrikam.com", "time": "15/02/2026"},
        {"tenant": "fabrikam.com", "time": None},
    )
    found, stats = run("usage/collected-while-disabled", events, ctx)
    assert found.empty
    assert stats.empty
    found, _ = run("usage/collected-while-disabled", events.drop(columns=["tenant"]), ctx)
    assert found.empty


def test_hits_keep_the_chunk_labels(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    events = usage({"tenant": "fabrikam.com", "time": "2026-02-15T00:00:00Z"},
                   {"tenant": "fabrikam.com", "time": "2026-01-15T00:00:00Z"})
    events.index = pd.Index([7001, 42])
    found, _ = run("usage/collected-while-disabled", events, ctx)
    assert found.index.tolist() == [7001]


# -- Meetings App: pool telemetry versus Watson ----------------------------------------


def meetings_crash(pool: str) -> pd.DataFrame:
    return error({"client": "meetings_app", "platform": "windows", "crash": True,
                  "tenant": "fabrikam.com", "pool": pool, "time": "2026-05-10T00:00:00Z"})


def test_windows_crash_pool_off_watson_on_is_fine(pack: RulePack) -> None:
    ledger = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    ctx = context(pack, ledger)
    # meet-eu.fabrikam.com: telemetry off since 2026-04-30T22:00Z; fabrikam Watson: off since
    # 2026-03-10, so use an org whose Watson is on by default instead
    events = meetings_crash("meet-eu.fabrikam.com").assign(tenant="tailspintoys.com")
    for rule_id in ("error/meeting-telemetry-disabled", "error/watson-disabled"):
        found, _ = run(rule_id, events, ctx)
        assert found.empty, rule_id
    # the same crash on the Mac is governed by the pool: flagged
    found, _ = run("error/meeting-telemetry-disabled", events.assign(platform="mac"), ctx)
    assert len(found) == 1


def test_windows_crash_watson_off_pool_on_is_a_watson_finding(pack: RulePack) -> None:
    ledger = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    ctx = context(pack, ledger)
    events = meetings_crash("pool01.contoso.com")   # pool on; fabrikam.com Watson off
    found, _ = run("error/meeting-telemetry-disabled", events, ctx)
    assert found.empty
    found, _ = run("error/watson-disabled", events, ctx)
    assert len(found) == 1
    assert found["explanation"].iat[0] == (
        "WatsonCrashUpload was false since 2026-03-10T00:00:00Z (ledger line 10); "
        "sending requires true"
    )
    # a Windows error report that is not a crash is not Watson's business
    found, _ = run("error/watson-disabled", events.assign(crash=False), ctx)
    assert found.empty


# -- user opt-in and the stored stage ------------------------------------------------


def test_no_opt_in_explanation_never_names_the_user(pack: RulePack) -> None:
    ledger = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    found, _ = run("error/no-opt-in", error(
        {"tenant": "contoso.com", "UserID": "amosmarble", "time": "2026-02-01T00:00:00Z"},
        {"tenant": "contoso.com", "UserID": "priya.k", "time": "2026-04-01T00:00:00Z"},
        {"tenant": "contoso.com", "UserID": "newhire", "time": "2026-04-01T00:00:00Z"},
        {"tenant": "contoso.com", "UserID": "AmosMarble", "time": "2026-04-01T00:00:00Z"},
    ), context(pack, ledger))
    assert found.index.tolist() == [1, 2, 3]   # user ids match exactly
    assert found["value"].tolist() == ["priya.k", "newhire", "AmosMarble"]
    for explanation, user in zip(found["explanation"], found["value"], strict=True):
        assert user.lower() not in explanation.lower()
    assert found["explanation"].iat[0].startswith("ErrorReportingOptIn was false since 2026-03-15")


def hashed(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def test_stored_stage_needs_hashed_ledger_subjects(pack: RulePack) -> None:
    events = error({"tenant": "contoso.com", "UserID": hashed("amosmarble"),
                    "time": "2026-02-01T00:00:00Z"})
    cleartext = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    with pytest.raises(NotTested, match="not"):
        run("error/no-opt-in", events, context(pack, cleartext, Stage.STORED))
    # in transit the same ledger decides
    found, _ = run("error/no-opt-in", events, context(pack, cleartext))
    assert len(found) == 1


def test_stored_stage_with_hashed_ledger_decides(pack: RulePack) -> None:
    ledger = ledger_from(
        f"user,{hashed('amosmarble')},ErrorReportingOptIn,true,2026-01-10T12:00:00Z\n"
        f"user,{hashed('priya.k')},ErrorReportingOptIn,false,2026-01-10T12:00:00Z\n", pack)
    ctx = context(pack, ledger, Stage.STORED)
    found, _ = run("error/no-opt-in", error(
        {"tenant": "contoso.com", "UserID": hashed("amosmarble"), "time": "2026-02-01"},
        {"tenant": "contoso.com", "UserID": hashed("priya.k"), "time": "2026-02-01"},
    ), ctx)
    assert found.index.tolist() == [1]
    # hashed, but with another function: nothing matches, so nothing can be decided
    with pytest.raises(NotTested, match="no stored UserID matches"):
        run("error/no-opt-in", error(
            {"tenant": "contoso.com", "UserID": hashlib.md5(b"amosmarble").hexdigest(),
             "time": "2026-02-01"}), ctx)


def test_stored_stage_org_and_pool_gates_still_decide(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack), Stage.STORED)
    found, _ = run("error/collected-while-disabled", error(
        {"tenant": "fabrikam.com", "UserID": hashed("x"), "time": "2026-02-15"}), ctx)
    assert len(found) == 1


# -- consent timeline -----------------------------------------------------------------


def test_timeline_lists_only_subjects_with_violations(pack: RulePack) -> None:
    ctx = context(pack, ledger_from(TRACING, pack))
    rule = pack.rules["usage/collected-while-disabled"]
    chunks = [
        usage({"tenant": "fabrikam.com", "time": "2026-01-15"},
              {"tenant": "fabrikam.com", "time": "2026-02-15"}),
        usage({"tenant": "fabrikam.com", "time": "2026-02-16"},
              {"tenant": "contoso.com", "time": "2026-03-01"}),
    ]
    stats = [KIND.func(rule, events, ctx)[1] for events in chunks]
    assert KIND.summarize is not None
    timeline = KIND.summarize(rule, stats, ctx)["consent_timeline"]
    assert timeline == [{
        "rule": "usage/collected-while-disabled",
        "scope": "org",
        "setting": "DisableAutomaticSendTracing",
        "subject": "fabrikam.com",
        "changes": [
            {"since": None, "value": False, "allowed": True, "ledger_line": None, "events": 1,
             "violations": 0},
            {"since": "2026-02-01T00:00:00Z", "value": True, "allowed": False, "ledger_line": 2,
             "events": 2, "violations": 2},
            {"since": "2026-03-01T00:00:00Z", "value": False, "allowed": True, "ledger_line": 3,
             "events": 0, "violations": 0},
            {"since": "2026-04-01T00:00:00Z", "value": True, "allowed": False, "ledger_line": 4,
             "events": 0, "violations": 0},
        ],
    }]
    assert KIND.summarize(rule, [], ctx) == {"consent_timeline": []}


def test_timeline_masks_user_subjects(pack: RulePack) -> None:
    ledger = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    ctx = context(pack, ledger)
    rule = pack.rules["error/no-opt-in"]
    _, stats = KIND.func(rule, error(
        {"tenant": "contoso.com", "UserID": "priya.k", "time": "2026-04-01T00:00:00Z"}), ctx)
    assert KIND.summarize is not None
    (entry,) = KIND.summarize(rule, [stats], ctx)["consent_timeline"]
    assert entry["subject"] == mask("priya.k", b"k")
    assert "priya" not in str(entry)
    assert [c["ledger_line"] for c in entry["changes"]] == [None, 21, 22]


def _busy_ledger(subjects: int, changes: int, seed: int) -> str:
    """``changes`` records for each of ``subjects`` tenants, the setting flipping at random
    minutes of January and February (all distinct, so none conflict)."""
    import random

    rng = random.Random(seed)
    lines = []
    for n in range(subjects):
        minutes = sorted(rng.sample(range(59 * 24 * 60), changes))
        lines += [f"org,t{n}.example.com,DisableAutomaticSendTracing,{str(i % 2 == 0).lower()},"
                  f"{(T0 + timedelta(minutes=m)).strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
                  for i, m in enumerate(minutes)]
    return "".join(lines)


def _busy_events(subjects: int, events: int, seed: int) -> pd.DataFrame:
    import random

    rng = random.Random(seed)
    return usage(*({"tenant": f"t{rng.randrange(subjects)}.example.com",
                    "time": (T0 + timedelta(minutes=rng.randrange(59 * 24 * 60))).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")} for _ in range(events)))


def _timeline(pack: RulePack, subjects: int, changes: int, events: int, **bounds: int
              ) -> tuple[dict[str, Any], pd.DataFrame, Ledger]:
    ledger = ledger_from(_busy_ledger(subjects, changes, 1), pack)
    ctx = context(pack, ledger)
    rule = pack.rules["usage/collected-while-disabled"]
    found, stats = KIND.func(rule, _busy_events(subjects, events, 2), ctx)
    assert KIND.summarize is not None
    return KIND.summarize(rule, [stats], ctx, **bounds), found, ledger


def test_a_busy_timeline_keeps_the_worst_subjects_and_their_violations(pack: RulePack) -> None:
    out, found, ledger = _timeline(pack, subjects=12, changes=40, events=600,
                                   max_subjects=5, max_changes=9)
    timeline = out["consent_timeline"]
    per_subject = found["value"].value_counts()
    assert len(timeline) == 5
    # the subjects with the most violations, most first (ties by name)
    ranked = sorted(per_subject.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [e["subject"] for e in timeline] == [s for s, _ in ranked[:5]]
    for entry in timeline:
        changes = entry["changes"]
        assert len(changes) == 9 and entry["changes_total"] == 41  # the default and 40
        assert changes[0]["since"] is None  # the default is always kept
        assert [c["since"] for c in changes[1:]] == sorted(c["since"] for c in changes[1:])
        assert entry["violations"] == per_subject[entry["subject"]]
        # listed changes and the ones said to follow them unlisted add up
        assert len(changes) + sum(c.get("omitted_after", 0) for c in changes) == 41
        for change in changes:
            if change.get("omitted_after"):
                assert change["until"] > (change["since"] or "")
        # the changes with the most violations are among those kept
        records = ledger.records_of("org", "DisableAutomaticSendTracing")
        assert len(records[records["subject"] == entry["subject"]]) == 40
    (note,) = out["consent_timeline_cut"]
    assert note["subjects"] == len(per_subject) and note["subjects_listed"] == 5
    assert note["violations"] == len(found)
    assert note["changes"] == len(per_subject) * 41
    assert note["changes_listed"] == 5 * 9
    assert note["violations_listed"] == sum(c["violations"] for e in timeline
                                            for c in e["changes"])
    assert f"{len(per_subject):,} subjects had violations" in note["message"]
    import jsonschema

    from audit.renderers.json import report_schema

    schema = report_schema()
    jsonschema.validate(out["consent_timeline_cut"], {
        **schema["properties"]["consent_timeline_cut"], "$defs": schema["$defs"]})


def test_kept_changes_prefer_violations_and_what_ended_them() -> None:
    import numpy as np

    from audit.checks.consent import kept_changes

    violations = np.array([0, 0, 5, 0, 0, 1, 0, 9, 0, 0])
    events = np.array([0, 2, 5, 0, 7, 1, 0, 9, 3, 0])
    assert kept_changes(violations, events, 20).tolist() == list(range(10))
    assert kept_changes(violations, events, 5).tolist() == [0, 2, 3, 7, 8]
    assert kept_changes(violations, events, 7).tolist() == [0, 2, 3, 5, 6, 7, 8]
    assert kept_changes(violations, events, 8).tolist() == [0, 2, 3, 4, 5, 6, 7, 8]


def test_the_timeline_stays_bounded_however_large_the_ledger(pack: RulePack) -> None:
    import json

    small, _, _ = _timeline(pack, subjects=8, changes=30, events=300,
                            max_subjects=4, max_changes=6)
    large, _, _ = _timeline(pack, subjects=30, changes=120, events=1_200,
                            max_subjects=4, max_changes=6)
    for out in (small, large):
        assert len(out["consent_timeline"]) == 4
        assert all(len(e["changes"]) <= 6 for e in out["consent_timeline"])
    # sixteen times the records: the timeline's size barely moves
    assert len(json.dumps(large)) < 1.5 * len(json.dumps(small))


def test_an_uncut_timeline_is_as_it_was(pack: RulePack) -> None:
    out, _, _ = _timeline(pack, subjects=3, changes=4, events=60)
    assert "consent_timeline_cut" not in out
    for entry in out["consent_timeline"]:
        assert set(entry) == {"rule", "scope", "setting", "subject", "changes"}
        assert len(entry["changes"]) == 5
        assert all("until" not in c and "omitted_after" not in c for c in entry["changes"])


# -- property: the vectorised check equals a plain loop --------------------------------

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SUBJECTS = ("a.com", "b.com", "c.com", "d.com")


def fake_pack(default: bool, allowed: bool) -> Any:
    gate = Gate(id="g", scope="org", setting="DisableAutomaticSendTracing", subject="tenant",
                default=default, allowed=allowed, when=MappingProxyType({"client": ("desktop",)}))
    category = SimpleNamespace(gates=MappingProxyType({"g": gate}))
    return SimpleNamespace(categories=MappingProxyType({"usage": category}))


RULE = Rule(id="usage/p", category="usage", kind="consent", severity=Severity.HIGH, title="t",
            message="m", params=MappingProxyType({"gate": "g"}))


def reference(records: list[tuple[str, int, bool]], events: list[tuple[str, str, int | None]],
              default: bool, allowed: bool) -> list[int]:
    """Rows in violation, decided one event and one record at a time."""
    flagged = []
    for i, (client, subject, minute) in enumerate(events):
        if client != "desktop" or minute is None:
            continue
        value, latest = default, None
        for rec_subject, rec_minute, rec_value in records:
            if rec_subject == subject.lower() and rec_minute <= minute and (
                    latest is None or rec_minute >= latest):
                value, latest = rec_value, rec_minute
        if value != allowed:
            flagged.append(i)
    return flagged


records_strategy = st.lists(
    # minutes on a coarse grid, so that events often fall exactly on a record's since
    st.tuples(st.sampled_from(SUBJECTS), st.integers(0, 20).map(lambda m: m * 10), st.booleans()),
    max_size=30, unique_by=lambda r: (r[0], r[1]),
)
events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["desktop", "desktop", "mobile"]),
        st.sampled_from([*SUBJECTS, "A.COM", "e.com"]),
        st.one_of(st.none(), st.integers(-1, 21).map(lambda m: m * 10), st.integers(-10, 210)),
    ),
    max_size=60,
)


def iso(minute: int, offset: bool = False) -> str:
    t = T0 + timedelta(minutes=minute)
    if offset:
        return t.astimezone(timezone(timedelta(hours=2))).isoformat()
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=records_strategy, events=events_strategy, default=st.booleans(),
       allowed=st.booleans(), offsets=st.booleans())
def test_matches_a_simple_loop(records: list[tuple[str, int, bool]],
                               events: list[tuple[str, str, int | None]], default: bool,
                               allowed: bool, offsets: bool) -> None:
    pack = fake_pack(default, allowed)
    text = "".join(f"org,{s},DisableAutomaticSendTracing,{str(v).lower()},{iso(m)}\n"
                   for s, m, v in records)
    ledger = ledger_from(text, pack)
    frame = pd.DataFrame({
        "client": [c for c, _, _ in events],
        "tenant": [s for _, s, _ in events],
        "time": [iso(m, offsets) if m is not None else "garbage" for _, _, m in events],
    }, index=pd.RangeIndex(len(events)) * 3 + 5, dtype=object)
    ctx = ScanContext(stage=Stage.TRANSIT, key=b"k", ledger=ledger, rulepack=pack)
    found, stats = KIND.func(RULE, frame, ctx)
    expected = [frame.index[i] for i in reference(records, events, default, allowed)]
    assert sorted(found.index.tolist()) == expected
    assert int(stats["violations"].sum()) == len(expected)
