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
records coded once at load, not a loop per event. Loading is linear and lean too: rows
go into Arrow columns a chunk at a time (no object per record), text is checked on its
distinct values, and the records share one string per distinct scope, setting and
subject, so a ledger of a million records loads in seconds.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import orjson
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
#: pandas 3 parses text times at a unit that holds any year; pandas 2 only at nanoseconds,
#: where a year before 1677 or after 2262 is out of range (see :func:`_iso_times`).
_PARSES_ANY_YEAR = int(pd.__version__.split(".")[0]) >= 3
#: The Gregorian calendar repeats itself every 400 years, which are 146,097 days.
_CYCLE_YEARS, _CYCLE_DAYS = 400, 146_097
#: The years pandas 2 is given to parse: one whole cycle, far enough inside nanoseconds'
#: range (1677 to 2262) that no offset moves a time out of it.
_SAFE_YEARS = (1800, 1800 + _CYCLE_YEARS)


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
    try:
        codes, uniques = pd.factorize(subjects, use_na_sentinel=True)
    except TypeError:  # a list or object where a name belongs: never a ledger subject
        codes, uniques = pd.factorize(subjects.map(_hashable), use_na_sentinel=True)
    text = pd.Index(uniques, dtype=object).map(_as_text)
    norm = pd.Series(text, dtype=object).str.strip()
    if scope in DNS_SCOPES:
        norm = norm.str.lower().str.rstrip(".")
    keys = norm.to_numpy(dtype=object, copy=True)
    keys[pd.isna(keys) | (norm.str.len() == 0).to_numpy(dtype=bool)] = None
    picked = keys[codes] if len(keys) else np.full(len(codes), None)
    picked[codes < 0] = None
    return pd.Series(picked, index=subjects.index, dtype=object)


def _hashable(value: Any) -> Any:
    """A list, object or array as its JSON text (as the record has it); others as they are."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


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
    return _iso_times(text)


def _iso_times(text: pd.Series) -> pd.Series:
    """ISO 8601 text times (UTC; NaT where not a time) in a unit that holds any year.

    pandas 3 picks such a unit itself. pandas 2 parses at nanoseconds only, so a year
    outside :data:`_SAFE_YEARS` is moved by whole 400-year cycles into it (the same
    calendar: leap days, offsets and month lengths are read as they were), parsed there,
    and moved back by the cycles' days at microseconds.
    """
    if _PARSES_ANY_YEAR:
        return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    year = pd.to_numeric(text.str.extract(r"^(\d{4})-", expand=False), errors="coerce")
    far = ((year < _SAFE_YEARS[0]) | (year >= _SAFE_YEARS[1])).fillna(False).astype(bool)
    if not far.any():
        return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").dt.as_unit("us")
    cycles = ((year - _SAFE_YEARS[0]) // _CYCLE_YEARS).where(far, 0).astype("int64")
    moved = (year - cycles * _CYCLE_YEARS)[far].astype("int64").astype(str).str.zfill(4)
    text = text.copy()
    text[far] = moved + text[far].str.slice(4)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").dt.as_unit("us")
    days = (cycles * _CYCLE_DAYS).to_numpy().astype("timedelta64[D]").astype("timedelta64[us]")
    return parsed + pd.Series(days, index=parsed.index)


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
    lines, columns = _parse_csv(where, text) if fmt == "csv" else _parse_jsonl(where, text)
    del text
    return where, hashlib.sha256(raw).hexdigest(), _validate(where, lines, columns,
                                                             _declared(pack))


def ledger_from(read: tuple[str, str, pd.DataFrame], pack: RulePack) -> Ledger:
    """The :class:`Ledger` of :func:`read_ledger`'s result, indexed for lookups."""
    where, sha256, records = read
    defaults = MappingProxyType(dict(_declared(pack)))
    # One mask per declared pair (a handful) rather than a groupby, which hashes every
    # scope and setting of a million records again.
    scopes = records["scope"].to_numpy(dtype=object)
    settings = records["setting"].to_numpy(dtype=object)
    by_setting = {}
    for scope, setting in _pairs(scopes, settings):
        rows = np.flatnonzero((scopes == scope) & (settings == setting))
        if len(rows):
            by_setting[(scope, setting)] = records.iloc[rows].reset_index(drop=True)
    return Ledger(
        path=where,
        sha256=sha256,
        records=records,
        defaults=defaults,
        _by_setting=MappingProxyType(by_setting),
        _joins=MappingProxyType({key: _join_side(t) for key, t in by_setting.items()}),
    )


def _pairs(scopes: np.ndarray, settings: np.ndarray) -> list[tuple[str, str]]:
    """The distinct (scope, setting) pairs, in the order they first occur."""
    scope_codes, scope_names = pd.factorize(scopes)
    setting_codes, setting_names = pd.factorize(settings)
    pair = scope_codes.astype(np.int64) * max(len(setting_names), 1) + setting_codes
    first = np.sort(np.unique(pair, return_index=True)[1])
    return [(scope_names[scope_codes[i]], setting_names[setting_codes[i]]) for i in first]


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


#: Rows gathered before their cells move into Arrow arrays: a million rows of Python
#: strings would cost half a gigabyte, the same cells in Arrow a tenth of that.
_CHUNK_ROWS = 65_536


class _Columns:
    """The five ledger columns of every record read so far, added a chunk of rows at a
    time, with each record's physical line. A chunk of text cells becomes Arrow strings;
    a chunk holding anything else (JSON booleans, numbers, objects) stays Python objects,
    so the checks see every value as it was written."""

    def __init__(self) -> None:
        self._lines: list[np.ndarray] = []
        self._chunks: dict[str, list[Any]] = {c: [] for c in COLUMNS}

    def add(self, numbers: list[int], rows: list[Sequence[Any]]) -> None:
        """Records at lines ``numbers``: ``row[i]`` is the value of ``COLUMNS[i]`` (None
        when missing)."""
        if not rows:
            return
        self._lines.append(np.asarray(numbers, dtype=np.int64))
        for name, cells in zip(COLUMNS, zip(*rows, strict=True), strict=True):
            self._chunks[name].append(_compact(cells))

    def finish(self) -> tuple[np.ndarray, dict[str, pd.Series]]:
        """The physical lines and one Series per column (Arrow strings when every chunk
        is text, else objects)."""
        lines = np.concatenate(self._lines) if self._lines else np.zeros(0, dtype=np.int64)
        return lines, {name: _joined(chunks) for name, chunks in self._chunks.items()}


def _compact(cells: tuple[Any, ...]) -> Any:
    """A chunk of one column: an Arrow string array when every cell is text or missing,
    else the cells as they are."""
    import pyarrow as pa

    try:
        return pa.array(cells, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return np.fromiter(cells, dtype=object, count=len(cells))  # lists stay items


def _joined(chunks: list[Any]) -> pd.Series:
    import pyarrow as pa

    if all(isinstance(c, pa.Array) for c in chunks):
        text = pa.chunked_array(chunks, type=pa.string())
        return pd.Series(pd.arrays.ArrowExtensionArray(text))
    parts = [c.to_numpy(zero_copy_only=False).astype(object) if isinstance(c, pa.Array)
             else c for c in chunks]
    return pd.Series(np.concatenate(parts) if parts else np.zeros(0, dtype=object),
                     dtype=object)


#: A physical line with its end (``\n``, ``\r\n`` or ``\r``), as ``io.StringIO(text,
#: newline="")`` yields them; but without its copy of the text at four bytes a character.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _parse_csv(where: str, text: str) -> tuple[np.ndarray, dict[str, pd.Series]]:
    plain = _plain_csv(text)
    if plain is not None:
        return plain
    reader = csv.reader((m.group() for m in _LINE.finditer(text)), strict=True)
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
        # a repeated name: its last column counts, as for a dict built from the row
        pick = operator.itemgetter(*(max(i for i, n in enumerate(names) if n == c)
                                     for c in COLUMNS))
        width = len(names)
        columns = _Columns()
        numbers: list[int] = []
        rows: list[Sequence[Any]] = []
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if len(cells) != width or not cells[0].strip():  # the usual row skips all this
                if not cells or all(not c.strip() for c in cells):
                    continue  # blank line
                if len(cells) > width:
                    raise LedgerError(f"{len(cells)} fields, but the header has {width}",
                                      path=where, line=start)
                cells = cells + [None] * (width - len(cells))  # reported as missing values
            numbers.append(start)
            rows.append(pick(cells))
            if len(rows) == _CHUNK_ROWS:
                columns.add(numbers, rows)
                numbers, rows = [], []
        columns.add(numbers, rows)
    except csv.Error as exc:
        raise LedgerError(f"invalid CSV: {exc}", path=where, line=reader.line_num) from None
    return columns.finish()


def _plain_csv(text: str) -> tuple[np.ndarray, dict[str, pd.Series]] | None:
    """What :func:`_parse_csv` gives for the common ledger, parsed by Arrow: no quotes,
    ``\\r`` or NUL, every line a record of the header's width whose first cell starts
    with a visible ASCII character (so no blank line, none short or long). None for any
    other text: the csv module then reads it, with its line numbers and errors."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if not text or '"' in text or "\r" in text or "\x00" in text:
        return None
    first = text.find("\n")
    if first < 0:
        return None
    names = [h.strip() for h in text[:first].split(",")]
    if any(c not in names for c in COLUMNS):
        return None
    width = len(names)
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=[str(i) for i in
                                                                      range(width)]),
            parse_options=pacsv.ParseOptions(quote_char=False, escape_char=False,
                                             double_quote=False, newlines_in_values=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys([str(i) for i in range(width)], pa.string()),
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, UnicodeError, ValueError):
        return None
    rows = table.num_rows
    if not rows or text.count("\n") + (not text.endswith("\n")) != rows + 1:
        return None  # an empty line Arrow took for a record of one empty cell
    if not pc.all(pc.match_substring_regex(table.column(0), r"^[!-+\--~]")).as_py():
        return None
    at = {n: i for i, n in enumerate(names)}  # a repeated name: its last column counts
    lines = np.arange(2, rows + 2, dtype=np.int64)
    return lines, {c: _joined(_chunked(table.column(at[c]).combine_chunks()))
                   for c in COLUMNS}


def _chunked(array: Any) -> list[Any]:
    """An Arrow column in the chunks :class:`_Columns` would have made of it."""
    return [array.slice(k, _CHUNK_ROWS) for k in range(0, len(array), _CHUNK_ROWS)]


def _parse_jsonl(where: str, text: str) -> tuple[np.ndarray, dict[str, pd.Series]]:
    columns = _Columns()
    numbers: list[int] = []
    rows: list[Sequence[Any]] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            obj = orjson.loads(raw_line)
        except orjson.JSONDecodeError:
            obj = _json_line(where, number, raw_line)  # what json accepts, or its error
        else:
            if isinstance(obj, dict) and any(isinstance(obj.get(c), float) for c in COLUMNS):
                obj = _json_line(where, number, raw_line)  # orjson makes big integers floats
        if not isinstance(obj, dict):
            raise LedgerError(
                f"expected a JSON object with keys {', '.join(COLUMNS)}, "
                f"found {type(obj).__name__}", path=where, line=number,
            )
        numbers.append(number)
        rows.append([obj.get(c) for c in COLUMNS])
        if len(rows) == _CHUNK_ROWS:
            columns.add(numbers, rows)
            numbers, rows = [], []
    columns.add(numbers, rows)
    return columns.finish()


def _json_line(where: str, number: int, line: str) -> Any:
    """A line orjson refused or read with a float, read by the standard parser, which
    accepts a little more (NaN, 1e400, lone surrogates), keeps integers beyond 64 bits
    integers, and words its errors as the ledger always has."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise LedgerError(f"invalid JSON: {exc.msg}", path=where, line=number) from None


def _declared(pack: RulePack) -> dict[tuple[str, str], bool]:
    """(scope, setting) → default for every consent gate of the pack."""
    gates: dict[tuple[str, str], bool] = {}
    for category in pack.categories.values():
        for gate in category.gates.values():
            gates.setdefault((gate.scope, gate.setting), gate.default)
    return gates


def _validate(
    where: str, lines: np.ndarray, columns: Mapping[str, pd.Series],
    gates: Mapping[tuple[str, str], bool],
) -> pd.DataFrame:
    """Check every record (first problem wins) and build the sorted records frame.

    Text columns are checked on their distinct values (a million records have a few
    scopes and settings and far fewer subjects than rows), then mapped back to rows.
    """
    scopes = sorted({scope for scope, _ in gates})

    def fail(i: int, what: str) -> LedgerError:
        return LedgerError(what, path=where, line=int(lines[i]))

    absent = {c: _absent(columns[c]) for c in COLUMNS}
    i = _first(np.logical_or.reduce([absent[c] for c in COLUMNS]) if len(lines) else [])
    if i is not None:
        missing = [c for c in COLUMNS if absent[c][i]]
        raise fail(i, f"missing value(s) for {', '.join(missing)}")

    codes: dict[str, np.ndarray] = {}
    names: dict[str, np.ndarray] = {}
    for name in ("scope", "subject", "setting"):
        column = columns[name]
        i = None if _all_text(column) else _first(~column.map(
            lambda v: isinstance(v, str)).to_numpy(dtype=bool))
        if i is not None:
            raise fail(i, f"{name} must be text, found {type(column.iat[i]).__name__}")
        codes[name], distinct = pd.factorize(column)
        names[name] = np.asarray([v.strip() for v in distinct], dtype=object)

    i = _first(~np.isin(names["scope"], scopes)[codes["scope"]])
    if i is not None:
        raise fail(i, f"unknown scope {names['scope'][codes['scope'][i]]!r} "
                      f"(expected one of: {', '.join(scopes)})")
    declared = np.array([[(scope, setting) in gates for setting in names["setting"]]
                         for scope in names["scope"]], dtype=bool).reshape(
                             len(names["scope"]), len(names["setting"]))
    i = _first(~declared[codes["scope"], codes["setting"]])
    if i is not None:
        scope, setting = names["scope"][codes["scope"][i]], names["setting"][codes["setting"][i]]
        known = sorted(s for sc, s in gates if sc == scope)
        raise fail(i, f"setting {setting!r} is not declared for scope {scope!r} "
                      f"by any consent gate (expected one of: {', '.join(known)})")
    i = _first((np.fromiter((len(v) for v in names["subject"]), dtype=np.int64,
                            count=len(names["subject"])) == 0)[codes["subject"]])
    if i is not None:
        raise fail(i, "empty subject")

    value = _booleans(columns["value"])
    i = _first(pd.isna(value))
    if i is not None:
        raise fail(i, f"value must be a boolean (true/false or 1/0), "
                      f"found {columns['value'].iat[i]!r}")

    # Parsed as event times are, so both sides agree: a time beyond nanoseconds' range
    # (before 1677, after 2262) is clipped to it and still sorts before or after them all.
    raw_since = columns["since"]
    if not _all_text(raw_since):
        raw_since = raw_since.map(lambda v: v if isinstance(v, str) else None)
    since = event_times(raw_since)
    i = _first(since.isna().to_numpy(dtype=bool))
    if i is not None:
        raise fail(i, f"since must be an ISO 8601 date-time such as 2026-03-01T00:00:00Z, "
                      f"found {columns['since'].iat[i]!r}")

    nanos = since.astype(_TIME).dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    keys = _subject_keys_of(codes, names)
    order = np.lexsort((lines, nanos))
    frame = pd.DataFrame({  # text stays objects: pandas would infer its string dtype
        "scope": pd.Series(names["scope"][codes["scope"][order]], dtype=object),
        "subject": pd.Series(keys[order], dtype=object),
        "setting": pd.Series(names["setting"][codes["setting"][order]], dtype=object),
        "value": value[order].astype(bool),
        "since": pd.DatetimeIndex(nanos[order]).tz_localize("UTC"),
        "line": lines[order],
    })
    return _without_duplicates(where, frame)


def _first(mask: Any) -> int | None:
    """The position of the first true value, or None."""
    bad = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(bad[0]) if len(bad) else None


def _absent(column: pd.Series) -> np.ndarray:
    """Where a value is missing: a short CSV row, a JSON null or a key left out. Only
    None counts (a JSON NaN is a value, and a wrong one)."""
    if _all_text(column) or isinstance(column.dtype, pd.ArrowDtype):
        return column.isna().to_numpy(dtype=bool)
    return np.fromiter((v is None for v in column), dtype=bool, count=len(column))


def _all_text(column: pd.Series) -> bool:
    """Whether every value is text: an Arrow string column without nulls, or objects
    that are all str (one C pass for the usual case)."""
    if isinstance(column.dtype, pd.ArrowDtype):
        return not column.hasnans
    return pd.api.types.infer_dtype(column, skipna=False) in ("string", "empty")


def _subject_keys_of(codes: Mapping[str, np.ndarray], names: Mapping[str, np.ndarray]
                     ) -> np.ndarray:
    """Each record's subject key (:func:`subject_keys` by its scope), worked out once per
    distinct (scope, subject)."""
    keys = np.empty(len(codes["subject"]), dtype=object)
    for number, scope in enumerate(names["scope"]):
        rows = np.flatnonzero(codes["scope"] == number)
        if not len(rows):
            continue
        present, inverse = np.unique(codes["subject"][rows], return_inverse=True)
        distinct = subject_keys(scope, pd.Series(names["subject"][present], dtype=object))
        keys[rows] = distinct.to_numpy(dtype=object)[inverse]
    return keys


def _without_duplicates(where: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Identical records for the same scope, subject, setting and since are dropped (the
    first kept); two that disagree are an error naming both lines."""
    key = ["scope", "subject", "setting", "since"]
    coded = pd.DataFrame({name: pd.factorize(frame[name])[0] for name in key[:3]})
    coded["since"] = frame["since"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    dup = coded.duplicated(keep=False).to_numpy(dtype=bool)
    if not dup.any():
        return frame
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
    return frame[~coded.duplicated(keep="first").to_numpy(dtype=bool)].reset_index(drop=True)


def _boolean(v: Any) -> bool | None:
    """One ledger value as a boolean; None when it is not an accepted one."""
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


def _booleans(raw: pd.Series) -> np.ndarray:
    """Ledger values as booleans (objects; None where not an accepted boolean). Text is
    parsed once per distinct value; other values (JSON) one by one, as they are typed."""
    if _all_text(raw):
        codes, distinct = pd.factorize(raw)
        parsed = np.asarray([_boolean(v) for v in distinct] + [None], dtype=object)
        return parsed[codes]  # code -1 (none here) would pick the None
    return np.fromiter((_boolean(v) for v in raw), dtype=object, count=len(raw))
