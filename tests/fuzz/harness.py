"""Fuzz the command line with hypothesis: every reader, the ledger, identities, mappings,
rule files and the arguments themselves.

Run as a script (not timed in CI; a small profile of the same targets runs there through
``test_fuzz_profile.py``)::

    python tests/fuzz/harness.py [--examples 10000] [--target jsonl ...] [--json OUT]

Each example writes generated (often hostile) input to a temporary folder and runs
``telemetry-audit scan`` (or ``rules validate``) in-process. It must end with exit 0, 1,
2 or 3; exit 2 only as one line naming what is wrong, never "internal error"; never a
traceback. When a report is written: records read = audited + rejected (per input and in
all), one ``input/malformed-record`` finding per rejected record, ``report.json`` valid
against its schema, and now and then every other format written and well formed (SARIF
JSON, JUnit XML, HTML with no script but ours, Markdown).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import io
import json
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE.parent)]

from support import CLEAN, DIRECTORY, FIXTURES, LEDGER, make_event  # noqa: E402

from audit import engine, ledger  # noqa: E402
from audit.cli import main  # noqa: E402
from audit.detectors import known  # noqa: E402
from audit.renderers.json import report_schema  # noqa: E402


def _by_path(load: Callable[..., Any]) -> Callable[..., Any]:
    """``load`` once per path (and other arguments, by identity): the fixture rule pack,
    ledger and directory are read-only and loading them is most of a tiny scan's time.
    Every example of the targets that fuzz those files writes a file of its own."""
    memo: dict[tuple[Any, ...], Any] = {}

    def cached(path: Any, *args: Any, **kwargs: Any) -> Any:
        key = (str(path), *map(id, args), *((k, id(v)) for k, v in sorted(kwargs.items())))
        if key not in memo:
            if len(memo) > 16:
                memo.clear()
            memo[key] = load(path, *args, **kwargs)
        return memo[key]

    return cached


@contextlib.contextmanager
def fixtures_loaded_once() -> Any:
    """While fuzzing: the loaders of the rule pack, the ledger and the directory cached by
    path (see :func:`_by_path`); restored afterwards, so nothing else sees the cache."""
    saved = [(engine, "load_rules"), (known, "load_identities"), (ledger, "load_ledger")]
    originals = [getattr(module, name) for module, name in saved]
    for (module, name), original in zip(saved, originals, strict=True):
        setattr(module, name, _by_path(original))
    try:
        yield
    finally:
        for (module, name), original in zip(saved, originals, strict=True):
            setattr(module, name, original)

ALL_FORMATS = "json,html,sarif,junit,md"
#: Every this many examples, all formats are written and checked (the rest: JSON only).
ALL_FORMATS_EVERY = 20

# -- generated content ---------------------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(["category", "time", "UserID", "DeviceID", "client", "tenant", "pool",
                     "ErrorLog", "a.b", "a", "__proto__", "_source", "_line", "", ".", "a..b",
                     "constructor", "ext.user.localId"]),
    st.text(max_size=12),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["2026-03-02T10:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                     "0000-01-01T00:00:00Z", "not a time", "amos.marble@contoso.com",
                     "sip:amos@contoso.com", "10.0.2.15", "00:1A:2B:3C:4D:5E",
                     "4111 1111 1111 1111", "census", "usage", "error", "desktop",
                     "meetings_app", "\ud800", "\x00", "<script>alert(1)</script>"]),
)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A reference event of a category with fields changed, removed or added."""
    event = make_event(draw(st.sampled_from(["census", "usage", "error"])))
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=3)):
        event.pop(key, None)
    event.update(draw(st.dictionaries(KEYS, JSON_VALUES, max_size=4)))
    return event


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, ensure_ascii=False, default=str)


@st.composite
def repeating_events(draw: st.DrawFn) -> str:
    """An event as JSON text that gives some of its keys again (real Census events repeat
    ``cV``), with any value: an object, a list, null."""
    event = draw(events())
    again = draw(st.lists(st.tuples(st.one_of(st.sampled_from(sorted(event) or [""]), KEYS),
                                    JSON_VALUES), min_size=1, max_size=3))
    members = [f"{_dumps(k)}: {_dumps(v)}" for k, v in [*event.items(), *again]]
    return "{" + ", ".join(members) + "}"


LINES = st.one_of(
    events().map(lambda e: _dumps(e).encode("utf-8", "surrogatepass")),
    repeating_events().map(lambda e: e.encode("utf-8", "surrogatepass")),
    JSON_VALUES.map(lambda v: _dumps(v).encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
    st.sampled_from([b"", b" ", b"{", b"[1,2", b'{"category": "census", "x": 1e999}',
                     b'{"category": "census", "x": NaN}', b'{"a": 1, "a": 2}',
                     b'{"category": "census", "n": ' + b"9" * 5001 + b"}",
                     b'{"category": "census", "s": "\xff\xfe"}',
                     b'{"category": "census", "a.b": 1, "a": {"b": 2}}',
                     b"[" * 3000 + b"]" * 3000]),
)


@st.composite
def jsonl_bytes(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(LINES, max_size=12))
    return draw(st.sampled_from([b"\n", b"\r\n"])).join(lines) + \
        draw(st.sampled_from([b"", b"\n"]))


@st.composite
def json_array_bytes(draw: st.DrawFn) -> bytes:
    items = draw(st.lists(st.one_of(events(), JSON_VALUES), max_size=10))
    text = _dumps(items).encode("utf-8", "surrogatepass")
    return draw(st.one_of(st.just(text), st.binary(max_size=80),
                          st.integers(0, max(len(text) - 1, 0)).map(lambda n: text[:n])))


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _text(value: str) -> str:
    """Text that can be written as UTF-8 (lone surrogates replaced)."""
    return value.encode("utf-8", "replace").decode("utf-8")


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    import csv

    rows = draw(st.lists(events(), min_size=0, max_size=8))
    header = draw(st.one_of(
        st.just(sorted({k for r in rows for k in r}) or ["category"]),
        st.lists(KEYS, max_size=6)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(k, "")) for k in header])
    text = out.getvalue().encode("utf-8", "surrogatepass")
    junk = draw(st.lists(st.sampled_from([b'"unclosed', b'a,b,c,d,e,f,g,h', b"\xff\xfe",
                                          b'"x""y",1', b"\r", b"\n\n"]), max_size=3))
    return text + b"\n".join(junk)


@st.composite
def parquet_bytes(draw: st.DrawFn) -> bytes:
    import pandas as pd

    rows = draw(st.lists(events(), max_size=6))
    # Parquet holds valid UTF-8 only, and one type per column: values other than numbers
    # become text, and a column pyarrow still refuses is written as text.
    frame = pd.DataFrame.from_records([{_text(k): v if isinstance(v, int | float)
                                        and not isinstance(v, bool) else _text(_cell(v))
                                        for k, v in r.items()} for r in rows]) \
        if rows else pd.DataFrame()
    buffer = io.BytesIO()
    try:
        frame.astype(str).to_parquet(buffer) if draw(st.booleans()) else \
            frame.to_parquet(buffer)
    except Exception:  # mixed column types pyarrow refuses: the text form always works
        buffer = io.BytesIO()
        frame.astype(str).to_parquet(buffer)
    data = buffer.getvalue()
    return draw(st.one_of(st.just(data), st.binary(max_size=60),
                          st.integers(0, max(len(data) - 1, 0)).map(lambda n: data[:n])))


def _brotli(data: bytes) -> bytes:
    import brotli

    return brotli.compress(data, quality=1)


#: Content-Encodings of HAR request bodies and how to apply them.
_PACKERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": functools.partial(gzip.compress, mtime=0), "deflate": zlib.compress,
    "br": _brotli}


@st.composite
def har_bytes(draw: st.DrawFn) -> bytes:
    import base64

    entries = []
    for _ in range(draw(st.integers(0, 4))):
        body_kind = draw(st.sampled_from(["events", "lines", "binary", "text", "junk",
                                          "compressed"]))
        headers: Any = []
        if body_kind == "events":
            text = _dumps(draw(st.lists(events(), max_size=3)))
        elif body_kind == "lines":
            text = "\n".join(_dumps(e) for e in draw(st.lists(events(), max_size=3)))
        elif body_kind == "binary":
            text = base64.b64encode(draw(st.binary(max_size=40))).decode()
        elif body_kind == "compressed":  # as 1DS SDKs post: possibly cut, or mislabelled
            body = "\n".join(_dumps(e) for e in draw(st.lists(events(), max_size=3)))
            coding, packed = draw(st.sampled_from(list(_PACKERS.items())))
            data = packed(body.encode("utf-8", "surrogatepass"))
            data = data[:draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
            text = base64.b64encode(data).decode()
            label = draw(st.sampled_from([coding, coding.upper(), "gzip, br", "zstd", "",
                                          "identity, " + coding]))
            headers = [{"name": draw(st.sampled_from(["Content-Encoding",
                                                      "content-encoding"])),
                        "value": label}]
        else:
            text = draw(st.text(max_size=40))
        headers = draw(st.one_of(st.just(headers), JSON_VALUES)) if headers else headers
        post: dict[str, Any] = {"mimeType": draw(st.sampled_from(
            ["application/json", "application/x-json-stream", "text/plain",
             "application/bond-compact-binary", ""])), "text": text}
        if body_kind in ("binary", "compressed"):
            post["encoding"] = "base64"
        entries.append({"request": {"method": draw(st.sampled_from(["POST", "GET", "PUT"])),
                                    "url": "https://collector.example/1.0?key=secret",
                                    "headers": headers,
                                    "postData": draw(st.one_of(st.just(post), JSON_VALUES))},
                        "response": {"status": 200}})
    doc: Any = {"log": {"version": "1.2", "entries": entries}}
    if draw(st.integers(0, 9)) == 0:
        doc = draw(JSON_VALUES)
    return _dumps(doc).encode("utf-8", "surrogatepass")


@st.composite
def compressed(draw: st.DrawFn) -> tuple[str, bytes]:
    name, inner = draw(st.sampled_from([("x.jsonl.gz", jsonl_bytes()),
                                        ("x.csv.gz", csv_bytes()),
                                        ("x.json.gz", json_array_bytes())]))
    data = gzip.compress(draw(inner))
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    return name, data if cut is None else data[:cut]


@st.composite
def ledger_text(draw: st.DrawFn) -> bytes:
    base = LEDGER.read_text("utf-8").splitlines()
    rows = draw(st.lists(st.one_of(
        st.sampled_from(base[1:]),
        st.builds(lambda *cells: ",".join(cells),
                  st.sampled_from(["org", "pool", "user", "tenant", ""]),
                  st.sampled_from(["contoso.com", "pool01.contoso.com", "amos@contoso.com",
                                   "", '"a,b"']),
                  st.sampled_from(["DisableAutomaticSendTracing", "MeetingUxEnableTelemetry",
                                   "ErrorReportingOptIn", "WatsonCrashUpload", "Nope"]),
                  st.sampled_from(["true", "false", "TRUE", "1", "", "maybe"]),
                  st.sampled_from(["2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
                                   "9999-12-31T23:59:59Z", "yesterday", "", "2026-02-30"])),
        st.text(max_size=30)), max_size=10))
    header = draw(st.sampled_from([base[0], "scope,subject,setting,value", ""]))
    text = "\n".join([header, *rows])
    if draw(st.booleans()):
        return text.encode("utf-8", "surrogatepass")
    return draw(st.binary(max_size=60))


@st.composite
def identities_text(draw: st.DrawFn) -> bytes:
    base = DIRECTORY.read_text("utf-8").splitlines()
    rows = draw(st.lists(st.one_of(
        st.sampled_from(base[1:]),
        st.builds(lambda k, v: f"{k},{v}",
                  st.sampled_from(["email", "upn", "sip", "username", "display_name",
                                   "object_id", "phone", "ip", "mac", "device_serial",
                                   "org_name", "tenant_domain", "nope", ""]),
                  st.text(max_size=20).map(lambda t: t.replace("\n", " "))),
        st.text(max_size=30)), max_size=10))
    header = draw(st.sampled_from([base[0], "value,kind", ""]))
    return "\n".join([header, *rows]).encode("utf-8", "surrogatepass")


@st.composite
def mapping_text(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from([FIXTURES / "mappings" / "common-schema.yaml",
                                 ROOT / "audit" / "mappings" / "common-schema.yaml",
                                 ROOT / "audit" / "mappings" / "application-insights.yaml"]))
    base_lines = base.read_text("utf-8").splitlines()
    lines = draw(st.lists(st.sampled_from(base_lines), max_size=len(base_lines)))
    extra = draw(st.lists(st.sampled_from([
        "fields: []", "ignore: {}", "  UserID: [a, b]", "  : x", "&a [*a]", "a: &x [*x, *x]",
        "<<: *nope", "fields:\n  category: {constant: census}", "\t", "%YAML 9.9", "---\n---",
        "a: !!python/object:os.system x", "extends: common-schema", "extends: mapping.yaml",
        "extends: nothing", "lift: [data., ext.]", "ignore: ['*']", "ignore: ['[']",
        "route: {field: name, categories: {census: '('}}",
        "route: {field: name, categories: {census: '(a+)+$', error: ''}, default: nope}",
        "fields:\n  X: {from: name, transform: [{regex: '(?P<a>x)(?P<b>y)'}]}",
        "fields:\n  UserID: {from: ext.user.localId, transform: [{decode: base64}, "
        "{cs-id: user}, {split: {sep: ':', index: -9}}, upper, {prefix: w}]}",
        "fields:\n  DeviceID: {from: [ext.device.localId, time, data], join: ''}",
        "fields:\n  time: {constant: 7}", "fields:\n  category: {from: name, "
        "transform: [{regex: 'census|usage'}]}"]), max_size=3))
    return "\n".join([*lines, *extra]).encode("utf-8")


@st.composite
def rules_dir(draw: st.DrawFn) -> dict[str, bytes]:
    """The built-in rule files with some lines dropped, duplicated or replaced."""
    files = {}
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        lines = path.read_text("utf-8").splitlines()
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(lines) - 1))
            action = draw(st.sampled_from(["drop", "dup", "replace", "indent"]))
            if action == "drop":
                del lines[at]
            elif action == "dup":
                lines.insert(at, lines[at])
            elif action == "indent":
                lines[at] = " " + lines[at]
            else:
                lines[at] = draw(st.sampled_from([
                    "    severity: urgent", "    kind: nope", "  - id: census/x", "x: *y",
                    "rules: 3", "    params: {field: 7}", "    when: {client: []}",
                    "fields: {}", "category: usage", draw(st.text(max_size=20))]))
        files[path.name] = "\n".join(lines).encode("utf-8", "surrogatepass")
    files["rule-pack.schema.json"] = (ROOT / "rules" / "rule-pack.schema.json").read_bytes()
    return files


OPTIONS = ["--ledger", "--identities", "--mapping", "--stage", "--format", "--out", "--fail-on",
           "--baseline", "--skip-rule", "--max-rejected", "--allow-incomplete", "--limit",
           "--jobs", "--chunk-rows", "--engine", "--workers", "--scheduler", "--rules",
           "--show-evidence", "--quiet", "--ledgr", "-q", "--"]
VALUES = ["transit", "stored", "json", "pdf", "high", "urgent", "0", "-1", "5%", "101%", "x",
          "census/*", "nope/*", "keys=5", "keys=lots", "auto", "2", "dask", "", "rules",
          str(LEDGER), str(DIRECTORY), str(CLEAN), "/nonexistent"]


# -- running the command line ---------------------------------------------------------

@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run(argv: list[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return Outcome(code, out.getvalue(), err.getvalue())


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(report_schema())


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        if any(name.startswith("on") for name, _ in attrs):
            raise AssertionError(f"an event handler attribute in the HTML: <{tag} {attrs}>")


def check(outcome: Outcome, out_dir: Path | None, all_formats: bool) -> None:
    """The promises every run keeps, whatever the input."""
    assert outcome.code in (0, 1, 2, 3), (outcome.code, outcome.err)
    assert "Traceback" not in outcome.err + outcome.out, outcome.err
    assert "internal error" not in outcome.err, outcome.err
    if outcome.code == 2:
        errors = [line for line in outcome.err.splitlines() if "error:" in line]
        assert errors, outcome.err
        return
    if out_dir is None or outcome.code not in (0, 1, 3):
        return
    report = json.loads((out_dir / "report.json").read_text("utf-8"))
    _validator().validate(report)
    summary = report["summary"]
    assert summary["records_read"] == summary["records_audited"] + summary["records_rejected"]
    inputs = report["run"]["inputs"]
    assert sum(i["records"] for i in inputs) == summary["records_read"]
    assert sum(i["rejected"] for i in inputs) == summary["records_rejected"]
    malformed = sum(1 for f in report["findings"] if f["rule"] == "input/malformed-record")
    assert malformed == summary["records_rejected"], (malformed, summary)
    for info in inputs:  # a HAR capture: per entry as per file, and every finding placed
        entries = info.get("entries")
        if entries is None:
            continue
        assert all(e["records"] == e["audited"] + e["rejected"] for e in entries), entries
        assert sum(e["records"] for e in entries) <= info["records"]
        assert sum(e["rejected"] for e in entries) <= info["rejected"]
        assert all(f.get("location") for f in report["findings"]
                   if f["source"] == info["path"])
        assert "secret" not in json.dumps(entries), entries  # URLs without their query
    verdict = summary["verdict"]
    assert (outcome.code, verdict) in {(0, "pass"), (1, "fail"), (3, "incomplete"),
                                       (0, "incomplete")}, (outcome.code, verdict)
    if all_formats:
        json.loads((out_dir / "report.sarif").read_text("utf-8"))
        ET.parse(out_dir / "report.junit.xml")
        parser = _Scripts()
        parser.feed((out_dir / "report.html").read_text("utf-8"))
        assert parser.scripts == 1, "the only script in the page is our own"
        assert (out_dir / "report.md").read_text("utf-8").startswith("# Telemetry audit")


class Workspace:
    """A temporary folder per example, emptied between examples."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fuzz-"))
        self.count = 0

    def fresh(self) -> Path:
        self.count += 1
        folder = self.root / str(self.count)
        folder.mkdir()
        return folder

    def done(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _scan(ws: Workspace, files: dict[str, bytes], extra: list[str], inputs: list[str] | None
          = None) -> None:
    folder = ws.fresh()
    try:
        for name, data in files.items():
            (folder / name).write_bytes(data)
        every = ws.count % ALL_FORMATS_EVERY == 0
        out = folder / "out"
        targets = inputs if inputs is not None else [str(folder / n) for n in files]
        argv = ["scan", *targets, "--out", str(out), "--quiet", "--format",
                ALL_FORMATS if every else "json", *extra]
        check(run(argv), out, every)
    finally:
        ws.done(folder)


Target = Callable[[Workspace], Callable[..., None]]


def _dump_target(name: str, strategy: st.SearchStrategy[bytes]) -> Target:
    def build(ws: Workspace) -> Callable[..., None]:
        @given(data=strategy, ledger=st.booleans())
        def target(data: bytes, ledger: bool) -> None:
            extra = ["--ledger", str(LEDGER), "--identities", str(DIRECTORY)] if ledger else []
            _scan(ws, {name: data}, extra)
        return target
    return build


def _compressed_target(ws: Workspace) -> Callable[..., None]:
    @given(item=compressed())
    def target(item: tuple[str, bytes]) -> None:
        _scan(ws, {item[0]: item[1]}, ["--ledger", str(LEDGER)])
    return target


def _input_target(option: str, name: str, strategy: st.SearchStrategy[bytes],
                  dump: Path = CLEAN) -> Target:
    def build(ws: Workspace) -> Callable[..., None]:
        @given(data=strategy)
        def target(data: bytes) -> None:
            folder = ws.fresh()
            try:
                (folder / name).write_bytes(data)
                out = folder / "out"
                every = ws.count % ALL_FORMATS_EVERY == 0
                argv = ["scan", str(dump), option, str(folder / name), "--out", str(out),
                        "--quiet", "--format", ALL_FORMATS if every else "json"]
                check(run(argv), out, every)
            finally:
                ws.done(folder)
        return target
    return build


def _rules_target(ws: Workspace) -> Callable[..., None]:
    @given(files=rules_dir())
    def target(files: dict[str, bytes]) -> None:
        folder = ws.fresh()
        try:
            rules = folder / "rules"
            rules.mkdir()
            for name, data in files.items():
                (rules / name).write_bytes(data)
            check(run(["rules", "validate", str(rules)]), None, False)
            out = folder / "out"
            check(run(["scan", str(CLEAN), "--rules", str(rules), "--out", str(out), "--quiet",
                       "--format", "json"]), out, False)
        finally:
            ws.done(folder)
    return target


def _cli_target(ws: Workspace) -> Callable[..., None]:
    @given(argv=st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES),
                                   st.text(max_size=8)), max_size=8),
           command=st.sampled_from([["scan", str(CLEAN)], ["rules", "validate"],
                                    ["rules", "list"], ["baseline", "create"], ["diff"], []]))
    def target(argv: list[str], command: list[str]) -> None:
        if "--engine" in argv or "--workers" in argv or "--scheduler" in argv:
            argv = [a for a in argv if a not in ("--engine", "--workers", "--scheduler", "dask")]
        folder = ws.fresh()
        try:
            out = folder / "out"
            full = [*command, *argv]
            if command[:1] == ["scan"]:
                full += ["--out", str(out), "--quiet"]
            outcome = run(full)
            check(outcome, out if command[:1] == ["scan"] and (out / "report.json").exists()
                  else None, False)
        finally:
            ws.done(folder)
    return target


TARGETS: dict[str, Target] = {
    "jsonl": _dump_target("x.jsonl", jsonl_bytes()),
    "json": _dump_target("x.json", json_array_bytes()),
    "csv": _dump_target("x.csv", csv_bytes()),
    "parquet": _dump_target("x.parquet", parquet_bytes()),
    "har": _dump_target("x.har", har_bytes()),
    "gzip": _compressed_target,
    "ledger": _input_target("--ledger", "ledger.csv", ledger_text()),
    "identities": _input_target("--identities", "directory.csv", identities_text()),
    "mapping": _input_target("--mapping", "mapping.yaml", mapping_text(),
                             FIXTURES / "dumps" / "1ds-capture.jsonl"),
    "rules": _rules_target,
    "cli": _cli_target,
}


def run_target(name: str, examples: int, seed: int | None = None) -> dict[str, Any]:
    """Run one target for ``examples`` examples; the result and, on failure, the error."""
    ws = Workspace()
    test = TARGETS[name](ws)
    configured = settings(max_examples=examples, deadline=None, database=None,
                          derandomize=seed is None,
                          suppress_health_check=list(HealthCheck))(test)
    if seed is not None:
        from hypothesis import seed as with_seed

        configured = with_seed(seed)(configured)
    started = time.perf_counter()
    error = None
    try:
        with fixtures_loaded_once():
            configured()
    except Exception as exc:  # a falsified promise: keep the minimal example's message
        error = f"{type(exc).__name__}: {exc}"[:2000]
    finally:
        ws.close()
    return {"target": name, "examples": ws.count, "seconds": round(time.perf_counter() - started,
                                                                   1),
            "result": "ok" if error is None else "FAILED", "error": error}


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--seed", type=int, default=None,
                        help="random examples from this seed (default: derandomized)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    for name in args.target or list(TARGETS):
        result = run_target(name, args.examples, args.seed)
        results.append(result)
        print(f"{name:11} {result['examples']:6} examples {result['seconds']:8.1f} s  "
              f"{result['result']}" + (f"\n    {result['error']}" if result["error"] else ""),
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), "utf-8")
    return 0 if all(r["result"] == "ok" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(cli())
