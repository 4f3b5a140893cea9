"""The consent ledger: strict validation with file:line errors, and as-of evaluation."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import audit.rulepack
from audit.errors import LedgerError
from audit.ledger import Ledger, load_ledger, subject_keys

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ledgers"
HEADER = "scope,subject,setting,value,since\n"
GOOD = "org,contoso.com,DisableAutomaticSendTracing,false,2026-01-01T00:00:00Z\n"


@pytest.fixture(scope="module")
def pack() -> audit.rulepack.RulePack:
    return audit.rulepack.load()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def expect_error(path: Path, pack: audit.rulepack.RulePack, line: int | None, *words: str) -> None:
    with pytest.raises(LedgerError) as info:
        load_ledger(path, pack)
    error = info.value
    assert error.line == line
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(error).startswith(f"{where}: "), str(error)
    for word in words:
        assert word in str(error), str(error)


# -- good ledgers -------------------------------------------------------------


def test_sample_csv_loads(pack: audit.rulepack.RulePack) -> None:
    ledger = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    assert isinstance(ledger, Ledger)
    assert len(ledger) == 25
    assert ledger.records["since"].is_monotonic_increasing
    assert str(ledger.records["since"].dtype) == "datetime64[ns, UTC]"
    assert ledger.records["value"].dtype == bool
    assert len(ledger.sha256) == 64
    assert ledger.defaults[("org", "WatsonCrashUpload")] is True
    assert ledger.defaults[("pool", "MeetingUxEnableTelemetry")] is False
    # the +02:00 record is normalised to UTC
    eu = ledger.records[(ledger.records["subject"] == "meet-eu.fabrikam.com")]
    assert str(eu["since"].max()) == "2026-04-30 22:00:00+00:00"


def test_csv_and_jsonl_load_identically(pack: audit.rulepack.RulePack) -> None:
    from_csv = load_ledger(FIXTURES / "sample-ledger.csv", pack).records
    from_jsonl = load_ledger(FIXTURES / "sample-ledger.jsonl", pack).records.copy()
    from_jsonl["line"] += 1  # the CSV header is line 1
    pd.testing.assert_frame_equal(from_csv, from_jsonl)


@pytest.mark.parametrize("suffix", [".csv.gz", ".jsonl.gz", ".ndjson", ".ndjson.gz"])
def test_other_suffixes(tmp_path: Path, pack: audit.rulepack.RulePack, suffix: str) -> None:
    source = FIXTURES / ("sample-ledger.csv" if ".csv" in suffix else "sample-ledger.jsonl")
    raw = source.read_bytes()
    path = tmp_path / f"ledger{suffix}"
    path.write_bytes(gzip.compress(raw) if suffix.endswith(".gz") else raw)
    expected = load_ledger(source, pack).records
    pd.testing.assert_frame_equal(load_ledger(path, pack).records, expected)


def test_accepted_booleans_and_times(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", HEADER + (
        "org,a.com,DisableAutomaticSendTracing,TRUE,2026-01-01\n"
        "org,a.com,DisableAutomaticSendTracing,0,2026-01-02 10:00\n"
        "org,a.com,DisableAutomaticSendTracing,1,2026-01-03T10:00:00+01:00\n"
        "org,a.com,DisableAutomaticSendTracing, False ,2026-01-04T10:00:00.5Z\n"
    ))
    records = load_ledger(path, pack).records
    assert records["value"].tolist() == [True, False, True, False]
    assert [str(t) for t in records["since"]] == [
        "2026-01-01 00:00:00+00:00",      # a date is midnight UTC
        "2026-01-02 10:00:00+00:00",      # naive is UTC
        "2026-01-03 09:00:00+00:00",      # offsets are normalised
        "2026-01-04 10:00:00.500000+00:00",
    ]


def test_jsonl_booleans_and_blank_lines(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    rows = [
        {"scope": "pool", "subject": "p1", "setting": "MeetingUxEnableTelemetry", "value": True,
         "since": "2026-01-01T00:00:00Z"},
        {"scope": "pool", "subject": "p1", "setting": "MeetingUxEnableTelemetry", "value": 0,
         "since": "2026-02-01T00:00:00Z", "changed_by": "admin"},
        {"scope": "pool", "subject": "p1", "setting": "MeetingUxEnableTelemetry", "value": "true",
         "since": "2026-03-01T00:00:00Z"},
    ]
    path = write(tmp_path, "l.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert load_ledger(path, pack).records["value"].tolist() == [True, False, True]


def test_identical_duplicates_are_dropped(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD + GOOD.replace("contoso.com", "Contoso.COM"))
    records = load_ledger(path, pack).records
    assert len(records) == 1
    assert records["line"].tolist() == [2]


def test_extra_columns_and_bom_are_accepted(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"\xef\xbb\xbfscope,subject,setting,value,since,comment\n"
                     + GOOD.strip().encode() + b",set by the admin\n\n")
    assert len(load_ledger(path, pack)) == 1


def test_header_only_is_an_empty_ledger(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    assert len(load_ledger(write(tmp_path, "l.csv", HEADER), pack)) == 0


# -- bad ledgers: file:line and what is wrong ----------------------------------


def test_missing_file(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    expect_error(tmp_path / "absent.csv", pack, None, "cannot read the ledger")


def test_unknown_suffix(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    expect_error(write(tmp_path, "l.txt", HEADER + GOOD), pack, None,
                 "unknown ledger format", ".csv", ".jsonl")


def test_empty_csv(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    expect_error(write(tmp_path, "l.csv", ""), pack, 1, "empty file", "scope,subject")


def test_missing_column(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", "scope,subject,setting,value\norg,a.com,X,true\n")
    expect_error(path, pack, 1, "missing column(s) since", "found scope,subject,setting,value")


def test_too_many_fields(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD + GOOD.strip() + ",extra\n")
    expect_error(path, pack, 3, "6 fields", "header has 5")


def test_short_row(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD + "org,contoso.com,DisableAutomaticSendTracing\n")
    expect_error(path, pack, 3, "missing value(s) for value, since")


def test_unknown_scope(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD + GOOD.replace("org,", "tenant,"))
    expect_error(path, pack, 3, "unknown scope 'tenant'", "org, pool, user")


def test_undeclared_setting(pack: audit.rulepack.RulePack) -> None:
    expect_error(FIXTURES / "invalid" / "unknown-setting.csv", pack, 3,
                 "'DisableAutoSendTracing'", "scope 'org'", "DisableAutomaticSendTracing")


def test_setting_of_another_scope(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", HEADER + "pool,contoso.com,WatsonCrashUpload,true,2026-01-01\n")
    expect_error(path, pack, 2, "'WatsonCrashUpload'", "scope 'pool'", "MeetingUxEnableTelemetry")


@pytest.mark.parametrize("value", ["yes", "", "2", "on", "truee"])
def test_bad_value(tmp_path: Path, pack: audit.rulepack.RulePack, value: str) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD.replace(",false,", f",{value},"))
    expect_error(path, pack, 2, "value must be a boolean", repr(value))


def test_bad_value_fixture(pack: audit.rulepack.RulePack) -> None:
    expect_error(FIXTURES / "invalid" / "bad-value.csv", pack, 2, "boolean", "'yes'")


@pytest.mark.parametrize("value", ["1.0", "null", '"maybe"', "[true]"])
def test_bad_json_value(tmp_path: Path, pack: audit.rulepack.RulePack, value: str) -> None:
    good = ('{"scope": "org", "subject": "a.com", "setting": "DisableAutomaticSendTracing", '
            '"value": true, "since": "2026-01-01"}')
    path = write(tmp_path, "l.jsonl", good + "\n" + good.replace("true", value) + "\n")
    what = "missing value(s) for value" if value == "null" else "value must be a boolean"
    expect_error(path, pack, 2, what)


@pytest.mark.parametrize("since", ["01/10/2026", "", "2026", "2026-03", "yesterday",
                                   "2026-02-30T00:00:00Z", "2026-03-01T25:00:00Z"])
def test_bad_since(tmp_path: Path, pack: audit.rulepack.RulePack, since: str) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD + GOOD.replace("2026-01-01T00:00:00Z", since))
    expect_error(path, pack, 3, "since must be an ISO 8601 date-time", repr(since))


def test_bad_since_fixture(pack: audit.rulepack.RulePack) -> None:
    expect_error(FIXTURES / "invalid" / "bad-since.csv", pack, 3, "ISO 8601", "'01/10/2026'")


def test_json_since_must_be_text(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    row = {"scope": "org", "subject": "a.com", "setting": "DisableAutomaticSendTracing",
           "value": True, "since": 1767225600}
    expect_error(write(tmp_path, "l.jsonl", json.dumps(row) + "\n"), pack, 1, "ISO 8601")


@pytest.mark.parametrize("subject", ["", "   "])
def test_empty_subject(tmp_path: Path, pack: audit.rulepack.RulePack, subject: str) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD.replace("contoso.com", subject))
    expect_error(path, pack, 2, "empty subject")


def test_conflicting_records(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD + GOOD + GOOD.replace(",false,", ",true,"))
    expect_error(path, pack, 4, "conflicting record", "as line 2", "value true instead of false")


def test_conflict_across_case_and_offsets(pack: audit.rulepack.RulePack) -> None:
    # Fabrikam.com at 01:00+01:00 is fabrikam.com at 00:00Z
    expect_error(FIXTURES / "invalid" / "conflict.jsonl", pack, 2, "conflicting record", "line 1")


def test_invalid_json_line(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    good = json.dumps({"scope": "org", "subject": "a.com", "setting": "DisableAutomaticSendTracing",
                       "value": True, "since": "2026-01-01"})
    path = write(tmp_path, "l.jsonl", good + "\n\n{not json\n")
    expect_error(path, pack, 3, "invalid JSON")


def test_json_line_not_an_object(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    expect_error(write(tmp_path, "l.ndjson", "[1, 2]\n"), pack, 1, "expected a JSON object",
                 "found list")


def test_json_missing_key(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    row = {"scope": "org", "subject": "a.com", "value": True, "since": "2026-01-01"}
    expect_error(write(tmp_path, "l.jsonl", json.dumps(row) + "\n"), pack, 1,
                 "missing value(s) for setting")


def test_json_subject_must_be_text(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    row = {"scope": "user", "subject": 42, "setting": "ErrorReportingOptIn", "value": True,
           "since": "2026-01-01"}
    expect_error(write(tmp_path, "l.jsonl", json.dumps(row) + "\n"), pack, 1,
                 "subject must be text", "found int")


def test_not_utf8(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(HEADER.encode() + GOOD.replace("contoso", "contos\xe9").encode("latin-1"))
    expect_error(path, pack, 2, "not UTF-8")


def test_bad_gzip(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = tmp_path / "l.csv.gz"
    path.write_bytes(b"not gzip at all")
    expect_error(path, pack, None, "not a valid gzip file")


def test_physical_lines_with_quoted_newlines(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    path = write(tmp_path, "l.csv", "scope,subject,setting,value,since,comment\n"
                 + GOOD.strip() + ',"two\nlines"\n'
                 + "org,contoso.com,DisableAutomaticSendTracing,maybe,2026-02-01,x\n")
    expect_error(path, pack, 4, "boolean")


# -- evaluation ---------------------------------------------------------------


def test_subject_keys() -> None:
    raw = pd.Series(["Contoso.COM.", " fabrikam.com ", None, "", "AmosMarble"])
    assert subject_keys("org", raw).tolist() == ["contoso.com", "fabrikam.com", None, None,
                                                 "amosmarble"]
    assert subject_keys("user", raw).tolist() == ["Contoso.COM.", "fabrikam.com", None, None,
                                                  "AmosMarble"]


def test_in_force_is_aligned_and_as_of(pack: audit.rulepack.RulePack) -> None:
    ledger = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    subjects = pd.Series(["fabrikam.com", "FABRIKAM.com", "fabrikam.com", "unknown.example",
                          "fabrikam.com", None], index=[50, 40, 30, 20, 10, 0])
    times = pd.Series(["2026-04-15T09:30:00Z", "2026-02-01T00:00:00Z", "2026-01-31T23:59:59Z",
                       "2026-03-01T00:00:00Z", "not a time", "2026-03-01T00:00:00Z"],
                      index=subjects.index)
    got = ledger.in_force("org", "DisableAutomaticSendTracing", subjects, times, default=False)
    assert got.index.tolist() == [50, 40, 30, 20, 10, 0]
    assert got["value"].tolist() == [False, True, False, False, pd.NA, pd.NA]
    assert got["line"].tolist() == [4, 3, pd.NA, pd.NA, pd.NA, pd.NA]
    assert got["recorded"].tolist() == [True, True, True, False, True, False]
    assert str(got["since"].iloc[1]) == "2026-02-01 00:00:00+00:00"
    assert pd.isna(got["since"].iloc[2])


def test_in_force_default_for_a_setting_without_records(pack: audit.rulepack.RulePack) -> None:
    ledger = load_ledger(FIXTURES / "sample-ledger.csv", pack)
    subjects = pd.Series(["tailspintoys.com"])
    got = ledger.in_force("org", "WatsonCrashUpload", subjects, pd.Series(["2026-06-01"]), True)
    assert got["value"].tolist() == [True]
    assert got["line"].isna().all()


def test_event_times_do_not_depend_on_the_other_times_parsed_with_them() -> None:
    """pandas parses at the finest precision present; a time's own value must not."""
    from audit.ledger import event_times

    times = ["2026-03-02T10:00:00.123456789Z", "3000-01-01T00:00:00Z", "1500-01-01T00:00:00Z",
             "2026-03-02T10:00:00.5+02:00", "2026-03-02", "soon"]
    together = event_times(pd.Series(times))
    alone = [event_times(pd.Series([t])).iloc[0] for t in times]
    assert [str(t) for t in together] == [str(t) for t in alone]
    assert str(together[0]) == "2026-03-02 10:00:00.123456789+00:00"
    assert together[3] == pd.Timestamp("2026-03-02T08:00:00.5Z")
    # Beyond nanoseconds' range: still after (or before) every ledger record.
    assert together[1] == pd.Timestamp.max.floor("s").tz_localize("UTC")
    assert together[2] == pd.Timestamp.min.ceil("s").tz_localize("UTC")
    assert pd.isna(together[5])


def test_events_over_time_count_a_far_future_event_on_its_own_day(tmp_path: Path) -> None:
    from support import make_event, write_jsonl

    dump = write_jsonl(tmp_path / "dump.jsonl", [
        make_event(time="2026-03-02T10:00:00.123456789Z"), make_event(time="3000-01-01T00:00:00Z")])
    days = [d["time"] for d in audit.scan(inputs=str(dump), chunk_rows=1).extras[
        "events_over_time"]]
    assert days == ["2026-03-02", "3000-01-01"]


def _prepared(options: object, aside: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The scan context, with the ledger read in a forked process or in this one."""
    from audit import engine, parallel

    monkeypatch.setattr(parallel, "ASIDE_MIN_LEDGER_BYTES", 0)  # the fixtures are small
    monkeypatch.setattr(parallel, "ASIDE_MIN_IDENTITIES_BYTES", 0)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    started = []
    start = parallel.LedgerAside.start
    monkeypatch.setattr(parallel.LedgerAside, "start",
                        lambda *args: started.append(1) or start(*args))
    try:
        return engine.prepare(options, fork=aside)  # type: ignore[arg-type]
    finally:
        assert started == ([1] if aside else [])


def test_ledger_read_beside_the_directory_equals_the_ledger_read_here(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a core to spare a large ledger is read in a forked process while a large
    directory builds; the ledger is the same, and so is the error of a broken one."""
    from support import DIRECTORY, LEDGER

    from audit.options import ScanOptions

    options = ScanOptions(inputs=("dump.jsonl",), ledger=str(LEDGER),
                          identities=str(DIRECTORY))
    here = _prepared(options, False, monkeypatch)
    aside = _prepared(options, True, monkeypatch)
    assert aside.ledger.sha256 == here.ledger.sha256
    pd.testing.assert_frame_equal(aside.ledger.records, here.ledger.records)
    assert aside.ledger.defaults == here.ledger.defaults


def test_the_ledger_is_read_aside_only_when_it_saves_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a large ledger beside a large directory, on more than one core, and never
    under ``--jobs 1`` (one process was asked for)."""
    from support import DIRECTORY, LEDGER, SAMPLE

    import audit
    from audit import engine, parallel
    from audit.options import ScanOptions

    options = ScanOptions(inputs=(str(SAMPLE),), ledger=str(LEDGER), identities=str(DIRECTORY))
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    assert not parallel.worth_reading_aside(options)  # the fixtures are small
    big = tmp_path / "policy.csv"
    big.write_bytes(LEDGER.read_bytes() + b"\n" * parallel.ASIDE_MIN_LEDGER_BYTES)
    assert not parallel.worth_reading_aside(replace(options, ledger=str(big)))
    monkeypatch.setattr(parallel, "ASIDE_MIN_IDENTITIES_BYTES", 0)
    assert parallel.worth_reading_aside(replace(options, ledger=str(big)))
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    assert not parallel.worth_reading_aside(replace(options, ledger=str(big)))

    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.setattr(parallel, "ASIDE_MIN_LEDGER_BYTES", 0)
    forks: list[bool] = []
    prepare = engine.prepare
    monkeypatch.setattr(engine, "prepare",
                        lambda opts, fork=False: forks.append(fork) or prepare(opts, fork=fork))
    for jobs in (0, 1, 2):
        audit.scan(inputs=str(SAMPLE), ledger=str(LEDGER), identities=str(DIRECTORY),
                   jobs=jobs, quiet=True)
    assert forks == [True, False, True]


def test_a_broken_ledger_read_aside_reports_its_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from support import DIRECTORY

    from audit.options import ScanOptions

    broken = tmp_path / "policy.csv"
    broken.write_text("scope,subject,setting,value,since\n"
                      "org,contoso.com,DisableAutomaticSendTracing,maybe,2026-01-01T00:00:00Z\n",
                      "utf-8")
    options = ScanOptions(inputs=("dump.jsonl",), ledger=str(broken), identities=str(DIRECTORY))
    errors = []
    for aside in (False, True):
        with pytest.raises(LedgerError) as err:
            _prepared(options, aside, monkeypatch)
        errors.append(str(err.value))
    assert errors[0] == errors[1] and "policy.csv:2: value must be a boolean" in errors[0]


def test_a_fraction_only_counts_after_seconds_and_never_overflows() -> None:
    """``10:00.5`` is not an ISO 8601 time (a fraction needs seconds before it), and a
    far-future time with a fraction stays at the end of the range, not an overflow."""
    from audit.ledger import event_times

    times = event_times(pd.Series(["2026-03-02T10:00.5Z", "2026-03-02T10:00:01.5Z",
                                   "9999-12-31T23:59:59.999999999Z"]))
    assert pd.isna(times[0])
    assert times[1] == pd.Timestamp("2026-03-02T10:00:01.5Z")
    assert times[2] == pd.Timestamp.max.floor("s").tz_localize("UTC")


_ANY_YEAR = ["0001-01-01T00:00:00Z", "0001-01-01T00:00+05:00", "0000-06-15", "0400-02-29",
             "0100-02-29", "1500-01-01T12:00:00-03:00", "1799-12-31T23:00:00-05:00",
             "2026-03-02T10:00:00+01:00", "2199-12-31T23:30:00-01:00", "3000-01-01",
             "9999-12-31T23:00:00-05:00", "2026-02-30", "soon", None]


@pytest.mark.parametrize("any_year", [True, False])
def test_text_times_keep_their_year_whatever_pandas_parses_them_at(
        any_year: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """pandas 2 parses at nanoseconds only; the years it cannot hold are moved by whole
    400-year cycles and back, which must read every time as pandas 3 does."""
    from audit import ledger

    if any_year and not ledger._PARSES_ANY_YEAR:
        pytest.skip("this pandas parses text times at nanoseconds only")
    monkeypatch.setattr(ledger, "_PARSES_ANY_YEAR", any_year)
    parsed = ledger.whole_second_times(pd.Series(_ANY_YEAR))
    assert [str(t) for t in parsed] == [
        "0001-01-01 00:00:00+00:00", "0000-12-31 19:00:00+00:00", "0000-06-15 00:00:00+00:00",
        "0400-02-29 00:00:00+00:00", "NaT", "1500-01-01 15:00:00+00:00",
        "1800-01-01 04:00:00+00:00", "2026-03-02 09:00:00+00:00",
        "2200-01-01 00:30:00+00:00", "3000-01-01 00:00:00+00:00",
        "10000-01-01 04:00:00+00:00", "NaT", "NaT", "NaT"]


def test_no_process_for_the_ledger_means_it_is_read_here(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import multiprocessing

    from support import DIRECTORY, LEDGER

    from audit.options import ScanOptions

    def no_process(*args: object, **kwargs: object) -> None:
        raise OSError("Resource temporarily unavailable")

    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(fork.Process, "start", no_process)
    options = ScanOptions(inputs=("dump.jsonl",), ledger=str(LEDGER),
                          identities=str(DIRECTORY))
    assert len(_prepared(options, True, monkeypatch).ledger) == len(
        _prepared(options, False, monkeypatch).ledger)


def test_a_ledger_reader_that_dies_means_it_is_read_here(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """A forked reader killed (out of memory, say) gives no result: no wait forever."""
    import os

    from support import DIRECTORY, LEDGER

    import audit.ledger
    from audit import parallel
    from audit.options import ScanOptions

    read = audit.ledger.read_ledger
    here = os.getpid()

    def dies_when_forked(*args: object) -> object:
        if os.getpid() != here:
            os._exit(1)
        return read(*args)  # type: ignore[arg-type]

    options = ScanOptions(inputs=("dump.jsonl",), ledger=str(LEDGER),
                          identities=str(DIRECTORY))
    monkeypatch.setattr(audit.ledger, "read_ledger", dies_when_forked)
    died = []
    result = parallel.LedgerAside.result
    monkeypatch.setattr(parallel.LedgerAside, "result",
                        lambda self: died.append(result(self) is None) or None)
    assert len(_prepared(options, True, monkeypatch).ledger) == len(
        _prepared(options, False, monkeypatch).ledger)
    assert died == [True]


def test_a_ledger_time_beyond_nanosecond_range_is_clipped_not_a_crash(
        tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    """``since`` of the year 3000 (or 1500) is parsed as event times are: it still falls
    after (or before) every event, instead of an OutOfBoundsDatetime traceback."""
    path = tmp_path / "policy.csv"
    path.write_text("scope,subject,setting,value,since\n"
                    "org,contoso.com,DisableAutomaticSendTracing,true,1500-01-01T00:00:00Z\n"
                    "org,contoso.com,DisableAutomaticSendTracing,false,3000-01-01T00:00:00Z\n",
                    "utf-8")
    ledger = load_ledger(path, pack)
    since = ledger.records["since"].tolist()
    assert since == [pd.Timestamp.min.ceil("s").tz_localize("UTC"),
                     pd.Timestamp.max.floor("s").tz_localize("UTC")]


# -- scale: a million records must load in seconds and a few hundred megabytes ----------


def _generated(path: Path, records: int, subjects: int) -> Path:
    """A CSV ledger: ``records`` changes over ``subjects`` tenants and users, every since
    a distinct second (no conflicts), in no particular order."""
    import numpy as np

    rng = np.random.default_rng(records)
    seconds = rng.choice(365 * 86400, size=records, replace=False)
    since = pd.Series(np.datetime64("2026-01-01T00:00:00", "s") + seconds).dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    user = rng.random(records) < 0.5
    ids = rng.integers(0, subjects, records).astype(str)
    pd.DataFrame({
        "scope": np.where(user, "user", "org"),
        "subject": np.where(user, np.char.add("User", ids), np.char.add(np.char.add("T", ids),
                                                                        ".Example.com")),
        "setting": np.where(user, "ErrorReportingOptIn", "DisableAutomaticSendTracing"),
        "value": np.where(rng.random(records) < 0.5, "true", "false"),
        "since": since,
    }).to_csv(path, index=False)
    return path


def _cpu_seconds(path: Path, pack: audit.rulepack.RulePack) -> float:
    """CPU time of loading a ledger and one as-of lookup per record, the best of two
    (CPU rather than wall time: other work on the machine does not count)."""
    import time

    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        ledger = load_ledger(path, pack)
        records = ledger.records_of("org", "DisableAutomaticSendTracing")
        ledger.at("org", "DisableAutomaticSendTracing", records["subject"].to_numpy(),
                  records["since"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]"), False)
        best = min(best, time.process_time() - started)
    return best


def test_loading_grows_linearly_with_the_records(tmp_path: Path,
                                                 pack: audit.rulepack.RulePack) -> None:
    small = _cpu_seconds(_generated(tmp_path / "small.csv", 20_000, 2_000), pack)
    large = _cpu_seconds(_generated(tmp_path / "large.csv", 160_000, 16_000), pack)
    # eight times the records: about eight times the work (a quadratic step gives 64)
    assert large < 16 * small, (small, large)


def test_records_share_their_text(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    """A million records name a few scopes and settings and far fewer subjects than rows:
    each distinct text is one string, not one per record (that cost half a gigabyte)."""
    ledger = load_ledger(_generated(tmp_path / "l.csv", 20_000, 500), pack)
    records = ledger.records
    assert len(records) == 20_000
    for column, most in (("scope", 2), ("setting", 2), ("subject", 1_000)):
        assert len({id(v) for v in records[column]}) <= most, column
    # org subjects are DNS names: matched in lower case, user subjects as written
    assert set(records.loc[records["scope"] == "org", "subject"].str[:1]) == {"t"}
    assert set(records.loc[records["scope"] == "user", "subject"].str[:4]) == {"User"}


def test_chunks_of_text_and_of_json_values_load_alike(
        tmp_path: Path, pack: audit.rulepack.RulePack, monkeypatch: pytest.MonkeyPatch) -> None:
    import audit.ledger

    rows = [{"scope": "pool", "subject": f"p{i % 3}", "setting": "MeetingUxEnableTelemetry",
             "value": [True, "false", 1, "0"][i % 4], "since": f"2026-01-{1 + i:02d}"}
            for i in range(10)]
    path = write(tmp_path, "l.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    whole = load_ledger(path, pack).records
    monkeypatch.setattr(audit.ledger, "_CHUNK_ROWS", 3)  # text-only and mixed chunks
    pd.testing.assert_frame_equal(load_ledger(path, pack).records, whole)
    assert whole["value"].tolist() == [True, False, True, False] * 2 + [True, False]
    rows[7]["value"] = "maybe"
    expect_error(write(tmp_path, "bad.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n"),
                 pack, 8, "value must be a boolean", "'maybe'")


@pytest.mark.parametrize(("line", "words"), [
    ('{"scope": "org", "subject": "a.com", "setting": "DisableAutomaticSendTracing", '
     '"value": NaN, "since": "2026-01-01"}', ("value must be a boolean", "nan")),
    ('{"scope": "org", "subject": 100000000000000000000000, "setting": '
     '"DisableAutomaticSendTracing", "value": true, "since": "2026-01-01"}',
     ("subject must be text", "found int")),
    ('{"scope": "org", "subject": "a.com", "setting": "DisableAutomaticSendTracing", '
     '"value": true, "since": "2026-01-01",}', ("invalid JSON", "double quotes")),
])
def test_json_the_fast_parser_refuses_is_read_as_before(
        tmp_path: Path, pack: audit.rulepack.RulePack, line: str, words: tuple[str, ...]) -> None:
    good = json.dumps({"scope": "org", "subject": "b.com",
                       "setting": "DisableAutomaticSendTracing", "value": True,
                       "since": "2026-01-01"})
    expect_error(write(tmp_path, "l.jsonl", good + "\n" + line + "\n"), pack, 2, *words)


def test_lines_end_as_csv_ends_them(tmp_path: Path, pack: audit.rulepack.RulePack) -> None:
    """A bare CR ends a line, and no other character does (a form feed is text)."""
    bad = "org,a.com,DisableAutomaticSendTracing,maybe,2026-01-02\r"
    path = tmp_path / "l.csv"
    path.write_bytes((HEADER.replace("\n", "\r") + GOOD.replace("\n", "\r") + "\r" + bad)
                     .encode())
    expect_error(path, pack, 4, "boolean")
    path.write_bytes((HEADER + GOOD.replace("contoso", "con\x0ctoso") + bad).encode())
    expect_error(path, pack, 3, "boolean")


def test_a_subject_that_is_a_list_or_object_is_never_a_ledger_subject() -> None:
    """``"tenant": []`` crashed the consent rules (unhashable list); it matches no record,
    so the setting's default applies, and the other subjects are unaffected."""
    import numpy as np

    subjects = pd.Series(["Contoso.com.", [], {"a": 1}, np.array(["x"]), None, "contoso.com"],
                         dtype=object)
    keys = subject_keys("org", subjects).tolist()
    assert keys[0] == keys[5] == "contoso.com" and keys[4] is None
    assert keys[1] == "[]" and keys[2] == '{"a": 1}' and keys[3] == '["x"]'


def test_a_list_valued_tenant_leaves_no_rule_in_error(tmp_path: Path) -> None:
    from support import LEDGER, make_event

    import audit

    dump = tmp_path / "list-tenant.jsonl"
    dump.write_text(json.dumps(make_event("usage", tenant=[])) + "\n", "utf-8")
    report = audit.scan(inputs=str(dump), ledger=str(LEDGER))
    assert not [o.rule for o in report.outcomes if o.status.value == "error"]
