"""The policy and consent ledger: which setting held for which subject, and since when.

A ledger is CSV (header ``scope,subject,setting,value,since``) or JSON Lines
(one object with those keys per line), optionally gzip-compressed; the suffix
chooses the format (``.csv``, ``.jsonl``, ``.ndjson``, each optionally ``.gz``).
A record holds from ``since`` until the next record for the same scope, subject
and setting; before any record the gate's default applies.

The ledger decides findings, so it is validated strictly and every problem is a
:class:`~audit.errors.LedgerError` naming the file, the 1-based physical line
(the CSV header is line 1) and what was expected:

* every (scope, setting) pair must be declared by a consent gate of the rule
  pack, so a typo cannot silently fall back to a default;
* ``value`` is a boolean: ``true``/``false`` in any case, or ``1``/``0`` (Group
  Policy exports registry DWORDs); JSON booleans and the integers 0/1 in JSON
  Lines. Nothing else (``yes``, ``on``, empty) is accepted;
* ``since`` is an ISO 8601 date or date-time with at least a full date
  (``2026-03-01``, ``2026-03-01T08:00:00+02:00``); naive times are UTC, and
  everything is normalised to UTC;
* ``subject`` is not empty; two records for the same scope, subject, setting
  and instant must agree (identical duplicates are dropped).

Extra columns (for example a comment or who changed the setting) are ignored.

Subjects are matched after trimming surrounding white space. Org subjects
(tenant domains) and pool subjects (server pool FQDNs) are DNS names, so they
match case-insensitively and without a trailing dot. User subjects (error-data
UserIDs: cleartext sign-in names in transit, hashes at rest) match exactly: a
hash may be case-sensitive, and a near miss falls back to the default, which
errs towards reporting rather than hiding a violation.

Evaluation (:meth:`Ledger.in_force`) is two ``searchsorted`` per call over
records coded once at load, not a loop per event.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from audit.errors import LedgerError

if TYPE_CHECKING:
    from audit.rulepack import RulePack

COLUMNS = ("scope", "subject", "setting", "value", "since")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
TRUE_TEXT = frozenset({"true", "1"})
FALSE_TEXT = frozenset({"false", "0"})
#: Case-insensitive scopes: their subjects are DNS names.
DNS_SCOPES = frozenset({"org", "pool"})
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:$|[Tt ])")
_TIME = "datetime64[ns, UTC]"


class InForce(NamedTuple):
    """The setting in force for each (subject key, time) asked about: numpy arrays in
    the order asked."""

    value: np.ndarray  # bool: the recorded value, else the default
    since: np.ndarray  # datetime64[ns], UTC: the record's since; NaT for the default
    line: np.ndarray  # int64: the record's ledger line; -1 for the default
    recorded: np.ndarray  # bool: the subject has some record for the setting
    decidable: np.ndarray  # bool: subject and time known (else value means nothing)


@dataclass(frozen=True, slots=True)
class _Join:
    """One (scope, setting)'s records, coded for as-of lookups with ``searchsorted``.

    A record's key is ``code * (len(levels) + 1) + rank``: its subject's position in
    ``known`` and the rank of its ``since`` among the distinct ``levels``; keys are
    sorted, so the record in force for a subject at a time is the last key at or
    before the subject's code and the rank of the time.
    """

    known: pd.Index
    levels: np.ndarray  # distinct since values, sorted (datetime64[ns])
    key: np.ndarray
    code: np.ndarray
    value: np.ndarray
    since: np.ndarray
    line: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Ledger:
    """A validated ledger: records sorted for as-of joins, with provenance.

    ``records`` has the columns ``scope``, ``subject`` (the matching key, see
    :func:`subject_keys`), ``setting``, ``value`` (bool), ``since`` (UTC) and
    ``line``, sorted by ``since`` then ``line``. ``defaults`` maps (scope,
    setting) to the default the rule pack declares for it.
    """

    path: str
    sha256: str
    records: pd.DataFrame
    defaults: Mapping[tuple[str, str], bool]
    _by_setting: Mapping[tuple[str, str], pd.DataFrame] = field(repr=False)
    #: Per (scope, setting): the records coded for as-of lookups, built once at load
    #: instead of for every chunk.
    _joins: Mapping[tuple[str, str], _Join] = field(repr=False)

    def __len__(self) -> int:
        return len(self.records)

    def subjects(self, scope: str, setting: str | None = None) -> pd.Index:
        """The distinct subject keys with a record in ``scope`` (for ``setting`` if given)."""
        if setting is not None:  # worked out at load, for the lookups
            join = self._joins.get((scope, setting))
            return join.known if join is not None else pd.Index([], dtype=object)
        records = self.records[self.records["scope"] == scope]
        return pd.Index(records["subject"].unique())

    def records_of(self, scope: str, setting: str) -> pd.DataFrame:
        """The records of one (scope, setting), in the order of ``records``."""
        table = self._by_setting.get((scope, setting))
        return self.records.iloc[:0] if table is None else table

    def in_force(
        self,
        scope: str,
        setting: str,
        subjects: pd.Series,
        times: pd.Series,
        default: bool,
    ) -> pd.DataFrame:
        """The value of ``setting`` in force for each (subject, time) pair.

        Returns a frame aligned to ``subjects.index`` with ``value`` (nullable
        boolean), ``since`` (UTC, NaT for the default), ``line`` (nullable int,
        NA for the default), ``recorded`` (whether the subject has any record
        for the setting) and ``subject`` (the matching key, see
        :func:`subject_keys`). Rows whose subject is missing or empty, or whose
        time is not ISO 8601, get ``value`` NA: they cannot be decided here (the
        schema rules report them).
        """
        keys = subject_keys(scope, subjects).to_numpy(dtype=object)
        forced = self.at(scope, setting, keys, _naive(event_times(times)), default)
        return pd.DataFrame({
            "value": pd.arrays.BooleanArray(forced.value, ~forced.decidable),
            "since": pd.DatetimeIndex(forced.since).tz_localize("UTC"),
            "line": pd.arrays.IntegerArray(forced.line, forced.line < 0),
            "recorded": forced.recorded,
            "subject": keys,
        }, index=subjects.index)

    def at(self, scope: str, setting: str, keys: np.ndarray, when: np.ndarray,
           default: bool) -> InForce:
        """:meth:`in_force` on prepared input: subject keys (object, None where
        missing) and UTC times (naive datetime64[ns], NaT where not a time)."""
        n = len(keys)
        join = self._joins.get((scope, setting))
        code = (join.known.get_indexer(keys) if join is not None and len(join.known)
                else np.full(n, -1, dtype=np.intp))
        decidable = pd.notna(keys) & ~np.isnat(when)
        value = np.full(n, default, dtype=bool)
        since = np.full(n, np.datetime64("NaT", "ns"))
        line = np.full(n, -1, dtype=np.int64)
        matched = np.flatnonzero(decidable & (code >= 0))
        if len(matched) and join is not None:
            mine = code[matched].astype(np.int64)
            rank = np.searchsorted(join.levels, when[matched], side="right")
            at = np.searchsorted(join.key, mine * (len(join.levels) + 1) + rank,
                                 side="right") - 1
            hit = at >= 0
            hit[hit] = join.code[at[hit]] == mine[hit]
            pos, at = matched[hit], at[hit]
            value[pos] = join.value[at]
            since[pos] = join.since[at]
            line[pos] = join.line[at]
        return InForce(value, since, line, code >= 0, decidable)


# -- matching -----------------------------------------------------------------


def _naive(times: pd.Series) -> np.ndarray:
    """UTC timestamps as naive datetime64[ns], the form merge_asof compares fastest."""
    return times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


def subject_keys(scope: str, subjects: pd.Series) -> pd.Series:
    """The matching key of each subject: trimmed, and lower case for DNS scopes.

    Missing and empty subjects become NA. Works on the distinct values only.
    """
    codes, uniques = pd.factorize(subjects, use_na_sentinel=True)
    text = pd.Index(uniques, dtype=object).map(_as_text)
    norm = pd.Series(text, dtype=object).str.strip()
    if scope in DNS_SCOPES:
        norm = norm.str.lower().str.rstrip(".")
    keys = norm.to_numpy(dtype=object, copy=True)
    keys[pd.isna(keys) | (norm.str.len() == 0).to_numpy(dtype=bool)] = None
    picked = keys[codes] if len(keys) else np.full(len(codes), None)
    picked[codes < 0] = None
    return pd.Series(picked, index=subjects.index, dtype=object)


def _as_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value if isinstance(value, str) else str(value)


def event_times(times: pd.Series, whole: pd.Series | None = None) -> pd.Series:
    """Event times as UTC nanosecond timestamps; NaT where not an ISO 8601 date-time.

    The same time gives the same answer whatever else is parsed with it (see
    :func:`whole_second_times`): seconds and their fraction are read apart. A time
    beyond nanoseconds' range (before 1677, after 2262) is clipped to it: it still falls
    before, or after, every ledger record, as the real time does. ``whole``, when given,
    is ``whole_second_times(times)`` already worked out (a chunk's, see :func:`chunk_times`).
    """
    parsed = parsed_times(times, whole)
    fractions = _fractions(times)
    if parsed.dt.unit != "ns":
        low, high = (pd.Timestamp.min.ceil("s").tz_localize("UTC"),
                     pd.Timestamp.max.floor("s").tz_localize("UTC"))
        # At a bound the fraction is dropped: it would overflow the last second.
        fractions = fractions.mask(((parsed <= low) | (parsed >= high)).fillna(False),
                                   pd.Timedelta(0))
        parsed = parsed.clip(low, high).astype(_TIME)
    return parsed + fractions


def whole_second_times(times: pd.Series) -> pd.Series:
    """ISO 8601 times (UTC; NaT where not a time) to the second, whatever their precision.

    pandas parses a column at the finest precision any of its values has: one time with
    nanoseconds makes the year 3000 out of range for the whole column. Dropping the
    fraction first makes a time valid or not, and on the same day, whatever chunk it is
    read in.
    """
    text = times.astype("string[pyarrow]")
    if _any_dot(text):
        text = text.str.replace(_FRACTION, r"\1", regex=True)
    return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")


def _any_dot(text: pd.Series) -> bool:
    """Whether some time may have a fraction of a second (most dumps have none)."""
    return bool(text.str.contains(".", regex=False).fillna(False).any())


#: A fraction of a second, after hours, minutes and seconds (``10:00.5`` is no time).
_FRACTION = r"(\d{2}:\d{2}:\d{2})\.\d+"


def chunk_times(frame: pd.DataFrame, column: str) -> pd.Series:
    """:func:`whole_second_times` of a frame's column, parsed once per chunk for every
    rule and count that reads it (the chunk cache; a time's answer is its own)."""
    from audit.context import shared

    return shared(frame, ("whole-second-times", column),
                  lambda: whole_second_times(frame[column]))


def _fractions(times: pd.Series) -> pd.Series:
    """The fraction of a second of each text time (zero for typed times)."""
    text = times.astype("string[pyarrow]") if pd.api.types.is_string_dtype(times.dtype) \
        or times.dtype == object else None
    if text is None or not _any_dot(text):
        return pd.Series(pd.Timedelta(0), index=times.index)
    digits = text.str.extract(r"\d{2}:\d{2}:\d{2}\.(\d+)", expand=False)
    nanos = digits.str.pad(9, side="right", fillchar="0").str.slice(0, 9)
    return pd.to_timedelta(pd.to_numeric(nanos).fillna(0).astype("int64"), unit="ns")


def parsed_times(times: pd.Series, whole: pd.Series | None = None) -> pd.Series:
    """Event times to the second (UTC; NaT where not an ISO 8601 date-time), in the
    unit pandas picks for them, which holds any year. ``whole`` as for :func:`event_times`."""
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(times.dtype):
        return times.dt.tz_localize("UTC")
    # Arrow strings keep parsing vectorised; a non-text value turns into text that
    # cannot pass the full-date test, so it ends up NaT like any other bad time.
    text = times.astype("string[pyarrow]")
    full_date = text.str.match(_FULL_DATE.pattern).fillna(False).astype(bool)
    return (whole_second_times(text) if whole is None else whole).where(full_date)


# -- loading ------------------------------------------------------------------


def load_ledger(path: str | Path, pack: RulePack) -> Ledger:
    """Read and validate a ledger against the consent gates of ``pack``."""
    return ledger_from(read_ledger(path, pack), pack)


def read_ledger(path: str | Path, pack: RulePack) -> tuple[str, str, pd.DataFrame]:
    """The reading half of :func:`load_ledger`: the path, the file's SHA-256 and the
    validated records (plain values, so another process can hand them over)."""
    where = str(path)
    raw = _read_bytes(Path(path))
    fmt, text = _decode(where, raw)
    rows = _parse_csv(where, text) if fmt == "csv" else _parse_jsonl(where, text)
    return where, hashlib.sha256(raw).hexdigest(), _validate(where, rows, _declared(pack))


def ledger_from(read: tuple[str, str, pd.DataFrame], pack: RulePack) -> Ledger:
    """The :class:`Ledger` of :func:`read_ledger`'s result, indexed for lookups."""
    where, sha256, records = read
    defaults = MappingProxyType(dict(_declared(pack)))
    by_setting = MappingProxyType({
        key: group.reset_index(drop=True)
        for key, group in records.groupby(["scope", "setting"], sort=False)
    })
    return Ledger(
        path=where,
        sha256=sha256,
        records=records,
        defaults=defaults,
        _by_setting=by_setting,
        _joins=MappingProxyType({key: _join_side(t) for key, t in by_setting.items()}),
    )


def _join_side(table: pd.DataFrame) -> _Join:
    """One setting's records coded for :meth:`Ledger.at`."""
    known = pd.Index(table["subject"].unique())
    code = known.get_indexer(table["subject"]).astype(np.int64)
    since = _naive(table["since"])
    levels = np.unique(since)
    key = code * (len(levels) + 1) + np.searchsorted(levels, since, side="right")
    order = np.argsort(key, kind="stable")
    return _Join(known=known, levels=levels, key=key[order], code=code[order],
                 value=table["value"].to_numpy(dtype=bool)[order], since=since[order],
                 line=table["line"].to_numpy(dtype=np.int64)[order])


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        what = f"cannot read the ledger: {exc.strerror or exc}"
        raise LedgerError(what, path=str(path)) from None


def _decode(where: str, raw: bytes) -> tuple[str, str]:
    """The format chosen by suffix, and the text (gunzipped, UTF-8, BOM removed)."""
    name = where.lower()
    gz = name.endswith(".gz")
    stem = name[:-3] if gz else name
    fmt = next((f for s, f in FORMATS.items() if stem.endswith(s)), None)
    if fmt is None:
        raise LedgerError(
            "unknown ledger format: expected a .csv, .jsonl or .ndjson file (optionally .gz)",
            path=where,
        )
    if gz:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise LedgerError(f"not a valid gzip file ({exc})", path=where) from None
    try:
        return fmt, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LedgerError(f"not UTF-8 text ({exc.reason})", path=where, line=line) from None


_Row = tuple[int, dict[str, Any]]


def _parse_csv(where: str, text: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise LedgerError(f"empty file: expected a header {','.join(COLUMNS)}",
                              path=where, line=1)
        names = [h.strip() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise LedgerError(
                f"missing column(s) {', '.join(missing)}: expected a header with "
                f"{','.join(COLUMNS)}, found {','.join(names) or '(empty)'}",
                path=where, line=1,
            )
        rows: list[_Row] = []
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not cells or (not cells[0].strip() and all(not c.strip() for c in cells)):
                continue  # blank line
            if len(cells) > len(names):
                raise LedgerError(
                    f"{len(cells)} fields, but the header has {len(names)}", path=where, line=start
                )
            # a short row leaves keys out: reported as missing values
            rows.append((start, dict(zip(names, cells, strict=False))))
    except csv.Error as exc:
        raise LedgerError(f"invalid CSV: {exc}", path=where, line=reader.line_num) from None
    return rows


def _parse_jsonl(where: str, text: str) -> list[_Row]:
    rows: list[_Row] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            obj = json.loads(raw_line)
        except json.JSONDecodeError as exc:
            raise LedgerError(f"invalid JSON: {exc.msg}", path=where, line=number) from None
        if not isinstance(obj, dict):
            raise LedgerError(
                f"expected a JSON object with keys {', '.join(COLUMNS)}, "
                f"found {type(obj).__name__}", path=where, line=number,
            )
        rows.append((number, obj))
    return rows


def _declared(pack: RulePack) -> dict[tuple[str, str], bool]:
    """(scope, setting) → default for every consent gate of the pack."""
    gates: dict[tuple[str, str], bool] = {}
    for category in pack.categories.values():
        for gate in category.gates.values():
            gates.setdefault((gate.scope, gate.setting), gate.default)
    return gates


def _validate(
    where: str, rows: list[_Row], gates: Mapping[tuple[str, str], bool]
) -> pd.DataFrame:
    """Check every record (first problem wins) and build the sorted records frame."""
    scopes = sorted({scope for scope, _ in gates})
    lines: list[int] = []
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for number, obj in rows:
        missing = [c for c in COLUMNS if obj.get(c) is None]
        if missing:
            raise LedgerError(f"missing value(s) for {', '.join(missing)}", path=where, line=number)
        lines.append(number)
        for c in COLUMNS:
            cols[c].append(obj[c])

    frame = pd.DataFrame({
        "scope": pd.Series(cols["scope"], dtype=object),
        "subject": pd.Series(cols["subject"], dtype=object),
        "setting": pd.Series(cols["setting"], dtype=object),
        "raw_value": pd.Series(cols["value"], dtype=object),
        "raw_since": pd.Series(cols["since"], dtype=object),
        "line": pd.Series(lines, dtype=np.int64),
    })

    def first_bad(mask: pd.Series | np.ndarray) -> int | None:
        bad = np.flatnonzero(np.asarray(mask, dtype=bool))
        return int(bad[0]) if len(bad) else None

    def fail(i: int, what: str) -> LedgerError:
        return LedgerError(what, path=where, line=int(frame["line"].iat[i]))

    for name in ("scope", "subject", "setting"):
        # One C pass settles the usual column (all text); only a mixed one is typed per row.
        all_text = pd.api.types.infer_dtype(frame[name], skipna=False) == "string"
        i = None if all_text else first_bad(~frame[name].map(lambda v: isinstance(v, str)))
        if i is not None:
            raise fail(i, f"{name} must be text, found {type(frame[name].iat[i]).__name__}")
        frame[name] = frame[name].str.strip()

    i = first_bad(~frame["scope"].isin(scopes))
    if i is not None:
        raise fail(i, f"unknown scope {frame['scope'].iat[i]!r} "
                      f"(expected one of: {', '.join(scopes)})")
    pairs = pd.MultiIndex.from_arrays([frame["scope"], frame["setting"]])
    i = first_bad(~pairs.isin(list(gates)))
    if i is not None:
        scope = frame["scope"].iat[i]
        known = sorted(s for sc, s in gates if sc == scope)
        raise fail(i, f"setting {frame['setting'].iat[i]!r} is not declared for scope {scope!r} "
                      f"by any consent gate (expected one of: {', '.join(known)})")
    i = first_bad(frame["subject"].str.len() == 0)
    if i is not None:
        raise fail(i, "empty subject")

    frame["value"] = _booleans(frame["raw_value"])
    i = first_bad(frame["value"].isna())
    if i is not None:
        raise fail(i, f"value must be a boolean (true/false or 1/0), "
                      f"found {frame['raw_value'].iat[i]!r}")

    # Parsed as event times are, so both sides agree: a time beyond nanoseconds' range
    # (before 1677, after 2262) is clipped to it and still sorts before or after them all.
    since = event_times(frame["raw_since"].map(lambda v: v if isinstance(v, str) else None))
    i = first_bad(since.isna())
    if i is not None:
        raise fail(i, f"since must be an ISO 8601 date-time such as 2026-03-01T00:00:00Z, "
                      f"found {frame['raw_since'].iat[i]!r}")
    frame["since"] = since.astype(_TIME)

    frame["subject"] = _keys_by_scope(frame)
    frame["value"] = frame["value"].astype(bool)
    frame = frame.sort_values(["since", "line"], kind="stable").reset_index(drop=True)
    key = ["scope", "subject", "setting", "since"]
    dup = frame.duplicated(key, keep=False)
    if dup.any():
        group = frame[dup]
        first = group.groupby(key, sort=False)["value"].transform("first")
        first_line = group.groupby(key, sort=False)["line"].transform("first")
        clash = group[group["value"] != first]
        if len(clash):
            row = clash.sort_values("line").iloc[0]
            other = int(first_line[clash.sort_values("line").index[0]])
            raise LedgerError(
                f"conflicting record: the same scope, subject, setting and since as line "
                f"{other}, but value {str(row['value']).lower()} instead of "
                f"{str(not row['value']).lower()}",
                path=where, line=int(row["line"]),
            )
        frame = frame.drop_duplicates(key, keep="first").reset_index(drop=True)
    return frame[["scope", "subject", "setting", "value", "since", "line"]]


def _booleans(raw: pd.Series) -> pd.Series:
    """Ledger values as booleans; None where the value is not an accepted boolean."""

    def parse(v: Any) -> bool | None:
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            return {1: True, 0: False}.get(v)
        if isinstance(v, str):
            t = v.strip().lower()
            if t in TRUE_TEXT:
                return True
            if t in FALSE_TEXT:
                return False
        return None

    return raw.map(parse).astype(object)


def _keys_by_scope(frame: pd.DataFrame) -> pd.Series:
    out = frame["subject"].to_numpy(dtype=object, copy=True)
    scopes = frame["scope"].to_numpy(dtype=object)
    for scope in pd.unique(scopes):
        mask = scopes == scope
        out[mask] = subject_keys(scope, frame["subject"][mask]).to_numpy(dtype=object)
    return pd.Series(out, index=frame.index, dtype=object)

