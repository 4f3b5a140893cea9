"""Baselines: findings a team has accepted, for a reason, until a date.

CI fails on new problems, not on ones already triaged; but an acceptance must
not be forever, so every entry has an owner and an expiry. Matching is by rule
and fingerprint (a keyed digest of rule, field and value, never the line), so
an entry survives a re-capture that moves records around. An expired entry
keeps its mark (``expired``) but the finding counts again.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from fnmatch import fnmatchcase
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from audit.errors import BaselineError
from audit.model import BaselineStatus, Finding, Severity
from audit.readers import StrictJSON

BASELINE_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineEntry:
    """One accepted finding."""

    fingerprint: str
    rule: str
    reason: str
    owner: str
    expires: date
    created: str | None = None

    def expired(self, today: date) -> bool:
        """The expiry date is the last day the acceptance holds."""
        return today > self.expires

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
        }
        if self.created is not None:
            doc["created"] = self.created
        return doc


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """The accepted findings of one baseline file, indexed by (rule, fingerprint)."""

    entries: tuple[BaselineEntry, ...] = ()
    path: str | None = None

    def index(self) -> dict[tuple[str, str], BaselineEntry]:
        """(rule, fingerprint) → the entry that applies (the latest expiry on duplicates)."""
        return _index(self)

    def reasons(self) -> dict[str, str]:
        """Fingerprint → reason, for renderers that show why a finding is accepted."""
        return {e.fingerprint: f"{e.reason} (owner {e.owner}, expires {e.expires})"
                for e in self.entries}


def _index(baseline: Baseline) -> dict[tuple[str, str], BaselineEntry]:
    # On duplicates the latest expiry wins: the most generous acceptance given.
    index: dict[tuple[str, str], BaselineEntry] = {}
    for entry in baseline.entries:
        key = (entry.rule, entry.fingerprint)
        if key not in index or entry.expires > index[key].expires:
            index[key] = entry
    return index


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The shipped JSON Schema of baseline files."""
    text = resources.files("audit.schemas").joinpath("baseline.schema.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _pointer(path: Iterable[Any]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""


def validate(doc: Any, *, path: str | None = None) -> None:
    """Raise :class:`BaselineError` naming the JSON pointer of the first problem."""
    validator = jsonschema.Draft202012Validator(schema())
    error = best_match(validator.iter_errors(doc))
    if error is not None:
        pointer = _pointer(error.absolute_path) or "/"
        raise BaselineError(f"invalid baseline: {error.message}", path=path, pointer=pointer)
    for i, raw in enumerate(doc["entries"]):
        if not _is_date(raw["expires"]):
            raise BaselineError(f"invalid baseline: {raw['expires']!r} is not a calendar date",
                                path=path, pointer=f"/entries/{i}/expires")


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_baseline(doc: Any, *, path: str | None = None) -> Baseline:
    """Build a :class:`Baseline` from an already-decoded document."""
    if (isinstance(doc, Mapping) and "entries" not in doc
            and "findings" in doc and "summary" in doc):
        # The report.json a scan wrote is the easiest JSON file to pass by mistake; the
        # schema error ("'entries' is a required property") would not say what to do.
        report = shlex.quote(path or "report.json")
        raise BaselineError(
            "this is a scan report, not a baseline; make one with: telemetry-audit baseline "
            f"create {report} --reason ... --owner ... --expires YYYY-MM-DD", path=path)
    validate(doc, path=path)
    entries = tuple(
        BaselineEntry(
            fingerprint=raw["fingerprint"],
            rule=raw["rule"],
            reason=raw["reason"],
            owner=raw["owner"],
            expires=date.fromisoformat(raw["expires"]),
            created=raw.get("created"),
        )
        for raw in doc["entries"]
    )
    return Baseline(entries=entries, path=path)


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline file; any problem is a :class:`BaselineError`."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read baseline: {exc}", path=where) from None
    try:
        # Strict: a lone surrogate could not be written to any report, and a repeated
        # key would silently keep only its last value.
        doc, problem = StrictJSON().loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=where,
                            line=exc.lineno) from None
    except RecursionError:
        raise BaselineError("not valid JSON: nested too deeply", path=where) from None
    if problem is not None:
        prefix = "" if problem.startswith("not valid JSON") else "not valid JSON: "
        raise BaselineError(f"{prefix}{problem}", path=where)
    return parse_baseline(doc, path=where)


def apply_baseline(findings: Iterable[Finding], baseline: Baseline | None,
                   today: date) -> Iterator[Finding]:
    """New findings marked ``suppressed`` (accepted, in date) or ``expired``
    (accepted, past expiry: active again). Unmatched findings are ``active``.
    Lazy, so a scan's findings stream through it."""
    if baseline is None or not baseline.entries:
        yield from findings
        return
    marks = baseline_marks(baseline, today)
    for finding in findings:
        status = marks.get((finding.rule, finding.fingerprint), BaselineStatus.ACTIVE)
        yield (finding if finding.baseline is status
               else dataclasses.replace(finding, baseline=status))


def baseline_marks(baseline: Baseline, today: date
                   ) -> dict[tuple[str, str], BaselineStatus]:
    """(rule, fingerprint) → the mark of a finding the baseline accepts: ``suppressed``,
    or ``expired`` past the entry's expiry. Any other finding is ``active``."""
    return {key: BaselineStatus.EXPIRED if entry.expired(today) else BaselineStatus.SUPPRESSED
            for key, entry in _index(baseline).items()}


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    # Strictly YYYY-MM-DD, as the baseline schema requires: fromisoformat alone would
    # also take 20270131 or 2027-W05-1.
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise BaselineError(f"expiry {value!r} is not a date (YYYY-MM-DD)")


def select_findings(findings: Iterable[Mapping[str, Any]], *, rules: Sequence[str] = (),
                    severities: Collection[Severity | str] = (),
                    path: str | None = None) -> list[Mapping[str, Any]]:
    """The findings (of a parsed ``report.json``, read from ``path``) whose rule matches
    one of ``rules`` (ids or fnmatch globs such as ``census/*``) and whose severity is
    one of ``severities``; an empty selector selects all. A selector that matches
    nothing is a :class:`BaselineError`: an empty baseline would silently accept nothing."""
    wanted = {str(Severity(s)) for s in severities}
    findings = list(findings)
    chosen = [f for f in findings
              if (not rules or any(fnmatchcase(str(f["rule"]), r) for r in rules))
              and (not wanted or str(f.get("severity")) in wanted)]
    if not chosen and (rules or wanted):
        order = [s.value for s in Severity if s.value in wanted]
        selection = ", ".join([*([f"rule {' or '.join(rules)}"] if rules else []),
                               *([f"severity {' or '.join(order)}"] if order else [])])
        raise BaselineError(f"no finding matches the selection ({selection}); the report's "
                            + (f"findings are {_by_severity(findings)}" if findings
                               else "findings: none"), path=path)
    return chosen


def _by_severity(findings: Iterable[Mapping[str, Any]]) -> str:
    """``critical: a, b; high: c`` — the rules of findings, highest severity first."""
    rules: dict[str, set[str]] = {}
    for f in findings:
        rules.setdefault(str(f.get("severity")), set()).add(str(f["rule"]))
    ranked = [s.value for s in Severity if s.value in rules]
    ranked += sorted(set(rules) - set(ranked))
    return "; ".join(f"{s}: {', '.join(sorted(rules[s]))}" for s in ranked)


def create_baseline(report_json: Mapping[str, Any], *, reason: str, owner: str,
                    expires: date | str, created: date | None = None,
                    rules: Sequence[str] = (),
                    severities: Collection[Severity | str] = (),
                    path: str | None = None) -> dict[str, Any]:
    """A baseline document accepting the findings of ``report_json`` (the parsed
    ``report.json``, read from ``path``) that :func:`select_findings` selects (all by
    default), one entry per (rule, fingerprint), validated before return. An expiry
    before today (UTC, or ``created``) is refused: it would accept nothing from the start."""
    if not reason.strip() or not owner.strip():
        raise BaselineError("a baseline entry needs a reason and an owner")
    until = _as_date(expires)
    today = created or datetime.now(timezone.utc).date()
    if until < today:
        raise BaselineError(f"expiry {until.isoformat()} is in the past (today is "
                            f"{today.isoformat()}, UTC); the expiry is the last day the "
                            "acceptance holds")
    stamp = today.isoformat()
    seen: set[tuple[str, str]] = set()
    entries = []
    chosen = select_findings(report_json.get("findings") or (), rules=rules,
                             severities=severities, path=path)
    for finding in chosen:
        key = (str(finding["rule"]), str(finding["fingerprint"]))
        if key in seen:
            continue
        seen.add(key)
        entries.append({"fingerprint": key[1], "rule": key[0], "reason": reason,
                        "owner": owner, "expires": until.isoformat(), "created": stamp})
    doc = {"version": BASELINE_VERSION, "entries": entries}
    validate(doc)
    return doc


def dump_baseline(doc: Mapping[str, Any]) -> str:
    """Stable text for a baseline document (sorted entries, so diffs review well)."""
    entries = sorted(doc.get("entries") or (), key=lambda e: (e["rule"], e["fingerprint"]))
    return json.dumps({**doc, "entries": entries}, indent=2, ensure_ascii=False) + "\n"
