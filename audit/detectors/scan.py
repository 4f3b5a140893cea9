"""Vectorised detection over a pandas Series: `detect()`.

Example::

    detect(df["DeviceModel"], ["PERSON_NAME", "EMAIL"])
    #            entity     detector               explanation   matched
    # 17    PERSON_NAME  person-name  PERSON_NAME via pattern…   Amos Marble's iPhone

How it stays fast on millions of rows: values are factorised (each distinct
value is examined once), each detector's RE2 prefilters run vectorised over the
distinct values (never over opaque ids, but for the few detectors that look for
ids, ``sees_opaque``), and Python validation (`find`) only runs on the candidates;
known identities use one Aho-Corasick pass per distinct value. Only the first
`MAX_VALUE_LEN` characters (64 KiB) of a value are analysed. A scan's rules share
this work: a :class:`Distinct` holds a column's distinct values and every answer
worked out about them, and :func:`search` runs one rule's entities over it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import repeat
from typing import TYPE_CHECKING, Any

import audit.detectors as _pkg
from audit.detectors.base import MAX_VALUE_LEN, Detector, Match
from audit.detectors.decode import DECODE_PREFILTER, expand
from audit.detectors.filters import FILTERS, excluded_by
from audit.detectors.known import KNOWN_IDENTITY, KNOWN_ORGANIZATION, KnownIdentities
from audit.lazy import lazy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    np = lazy("numpy")
    pd = lazy("pandas")
    pa = lazy("pyarrow")
    pc = lazy("pyarrow.compute")


KNOWN_ENTITIES = (KNOWN_IDENTITY, KNOWN_ORGANIZATION)
MEMO_LIMIT = 500_000
#: A whole value that is a GUID (braces allowed) or a hex digest of 128 to 512 bits: it
#: holds no e-mail, phone, name or secret, though it may be a digest of a known identity.
OPAQUE_ID = (
    r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$"
    r"|^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{128})$"
)
#: A whole value of hex pairs that are all printable ASCII (0x20 to 0x7f): text written in
#: hex, not a digest (16 random bytes pass with odds of one in ten million), so not opaque.
HEX_TEXT = r"^(?:[2-7][0-9A-Fa-f]){8,}$"
#: A whole value that is an ISO 8601 date-time: nothing in it to find at all.
ISO_TIME = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$"
COLUMNS = ["entity", "detector", "explanation", "matched"]
_UNSEEN = object()  # a memo lookup's default: the value was never examined
_UNIQUE = object()  # a memo's key set once its column's values hardly ever come back
#: A column's memo is asked first only while at least this share of a later chunk's
#: distinct values (when more than `REPEATS_MIN` are new) were seen before.
REPEATS_SHARE = 0.2
REPEATS_MIN = 2_000


def memo_given_up(memo: dict[str, Any]) -> bool:
    """Whether a memo was given up (see :func:`give_up_memo`): ask nothing of it."""
    return bool(memo.get(_UNIQUE))  # type: ignore[call-overload]


def give_up_memo(memo: dict[str, Any], new: int, total: int) -> bool:
    """Give a memo up when a chunk's values hardly ever come back (more than
    `REPEATS_MIN` of ``total`` are ``new``, over ``1 - REPEATS_SHARE`` of them: ids, free
    text): looking values up first then costs more than it saves. Its answers are let go
    and it is marked, so later chunks skip it; whether it was given up."""
    if not memo or new <= REPEATS_MIN or new <= total * (1 - REPEATS_SHARE):
        return False
    memo.clear()
    memo[_UNIQUE] = True  # type: ignore[index]
    return True


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_args(entities: Sequence[str], exclude: Sequence[str]) -> None:
    unknown = [e for e in entities if e not in _pkg.ENTITIES]
    if unknown:
        raise ValueError(
            f"unknown entity {', '.join(unknown)}; expected one of {', '.join(_pkg.ENTITIES)}"
        )
    bad = [f for f in exclude if f not in FILTERS]
    if bad:
        raise ValueError(f"unknown filter {', '.join(bad)}; expected one of {', '.join(FILTERS)}")


def registry(kind: str | None = None) -> Mapping[str, Detector]:
    """Entity → detector for a field of ``kind``: the named detectors of that kind (see
    :data:`audit.detectors.named.NAMED`) in place of the plain ones."""
    named = _pkg.NAMED.get(kind) if kind else None
    return {**_pkg.DETECTORS, **named} if named else _pkg.DETECTORS


def sees_opaque(det: object) -> bool:
    """Whether a detector examines opaque ids (a whole-value GUID or hex digest)."""
    parts = getattr(det, "parts", None)
    if parts:
        return any(sees_opaque(p) for p in parts)
    return bool(getattr(det, "sees_opaque", False))


def _find(
    entity: str,
    text: str,
    identities: KnownIdentities | None,
    exclude: Sequence[str],
    known_cache: dict[str, list[Match]],
    detectors: Mapping[str, Detector],
    batch: Mapping[str, Mapping[str, list[Match]]] | None = None,
) -> Match | None:
    found = batch.get(entity) if batch else None
    if found is not None and text in found:
        matches = found[text]
    elif entity in KNOWN_ENTITIES:
        if identities is None:
            return None
        if text not in known_cache:  # one automaton search serves both KNOWN_* entities
            known_cache[text] = identities.find(text)
        matches = [m for m in known_cache[text] if m.entity == entity]
    else:
        det = detectors[entity]
        if not _compiled(det.prefilter).search(text):
            return None
        matches = det.find(text)
    for m in matches:
        if exclude and excluded_by(m.value, tuple(exclude)):
            continue
        if m.detector is None:
            name = getattr(detectors.get(entity), "name", None)
            return dataclasses.replace(m, detector=name)
        return m
    return None


def detect_text(
    text: str,
    entities: Sequence[str],
    *,
    identities: KnownIdentities | None = None,
    decode: bool = True,
    exclude: Sequence[str] = (),
    kind: str | None = None,
) -> Match | None:
    """The first match in `text`, trying `entities` in order (raw text, then decoded copies).

    `exclude` names filters (see `filters.FILTERS`): a value that is wholly,
    say, a version string is skipped, and so is any match that is one. `kind` is
    the field's kind (declared, or told by its name): its named detectors apply.
    """
    _check_args(entities, exclude)
    return _detect_one(text[:MAX_VALUE_LEN], tuple(entities), identities, decode, tuple(exclude),
                       detectors=registry(kind))


def _detect_one(
    text: str,
    entities: tuple[str, ...],
    identities: KnownIdentities | None,
    decode: bool,
    exclude: tuple[str, ...],
    known_cache: dict[str, list[Match]] | None = None,
    detectors: Mapping[str, Detector] | None = None,
    batch: Mapping[str, Mapping[str, list[Match]]] | None = None,
) -> Match | None:
    if exclude and excluded_by(text, exclude):
        return None
    decoded: list[tuple[str, str]] | None = None
    if known_cache is None:
        known_cache = {}
    if detectors is None:
        detectors = _pkg.DETECTORS
    for entity in entities:
        found = _find(entity, text, identities, exclude, known_cache, detectors, batch)
        if found is not None:
            return found
        if not decode:
            continue
        if decoded is None:
            decoded = expand(text) if _compiled(DECODE_PREFILTER).search(text) else []
        for plain, how in decoded:
            found = _find(entity, plain, identities, exclude, known_cache, detectors)
            if found is not None:
                why = f"{found.explanation}; found after {how} decoding"
                return dataclasses.replace(found, explanation=why)
    return None


def _empty(index: pd.Index) -> pd.DataFrame:
    empty = np.empty(0, dtype=object)  # plain arrays: most columns match nothing, build cheaply
    return pd.DataFrame(dict.fromkeys(COLUMNS, empty), index=index[:0], copy=False)


def is_text(values: pd.Series) -> bool:
    """A string dtype (not object): every value present is already a str."""
    return pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values)


def _as_text(values: pd.Series) -> pd.Series:
    if is_text(values):
        return values.astype(object)
    return values.map(lambda v: v if isinstance(v, str) else str(v))


def _encoded(values: pd.Series) -> tuple[np.ndarray, np.ndarray, Any]:
    """A string Series dictionary-encoded by Arrow: each row's code (-1 where missing),
    the distinct values in order of appearance as str, and as one Arrow array."""
    array = pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    encoded = pc.dictionary_encode(array)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    dictionary = encoded.dictionary.cast(pa.large_string())
    return codes, dictionary.to_numpy(zero_copy_only=False), dictionary


def _as_arrow(uniques: np.ndarray) -> Any:
    """Distinct values as one Arrow string array, for RE2 (vectorised) prefilters."""
    return pa.array(uniques, type=pa.large_string(), from_pandas=True)


def _prefilter_mask(values: Any, pattern: str) -> np.ndarray:
    """Vectorised regex search of one prefilter over the distinct values.

    pyarrow's RE2 runs it straight (pandas' ``str.contains`` would re-parse the
    pattern on every call to decide whether RE2 can); a pattern RE2 refuses falls
    back to Python's ``re`` value by value.
    """
    try:
        found = pc.match_substring_regex(values, pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        compiled = _compiled(pattern)
        return np.fromiter((bool(compiled.search(v)) for v in values.to_pylist()),
                           dtype=bool, count=len(values))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _prefilters(det: object) -> list[tuple[str, bool]]:
    """A composite's parts' prefilters one by one, each with whether its part examines
    opaque ids: RE2 handles small patterns far faster than one big alternation (whose
    DFA would not fit its memory budget)."""
    parts = getattr(det, "parts", None)
    if parts:
        return [p for part in parts for p in _prefilters(part)]
    return [(det.prefilter, sees_opaque(det))]  # type: ignore[attr-defined]


class Prefilter:
    """Which prefilters hit some distinct values (an Arrow array of them).

    Opaque ids (a GUID or hex digest as the whole value) hold no e-mail, phone, name
    or secret: only the directory and the detectors that look for ids (a version 1
    GUID, a machine id under its name) can say anything about them, so other
    prefilters never hit them and RE2 runs over the other values only, each pattern once.
    """

    def __init__(self, positions: np.ndarray, values: Any, opaque: np.ndarray) -> None:
        self.positions = positions
        self.opaque = opaque
        self._values = values
        self._plain = values.filter(pa.array(~self.opaque)) if self.opaque.any() else values
        self._hits: dict[tuple[str, bool], np.ndarray] = {}

    def hits(self, pattern: str, opaque: bool = False) -> np.ndarray:
        """Whether ``pattern`` hits each value (an opaque id only when ``opaque``)."""
        found = self._hits.get((pattern, opaque))
        if found is None:
            if opaque:
                found = _prefilter_mask(self._values, pattern)
            else:
                found = np.zeros(len(self.positions), dtype=bool)
                found[~self.opaque] = _prefilter_mask(self._plain, pattern)
            self._hits[pattern, opaque] = found
        return found


class Distinct:
    """The distinct texts of a Series (ISO 8601 times left out) and each row's text.

    What a search asks of the distinct values is worked out on first demand, for the
    values asked about, and kept (the prefilters' hits, the directory automaton's
    candidates, the directory matches of a candidate): rules that search the same
    column of the same rows share one ``Distinct`` and pay for each answer once.
    """

    def __init__(self, values: pd.Series) -> None:
        if is_text(values):  # Arrow strings are encoded in C; only the distinct become str
            codes, uniques, arrow = _encoded(values)
            present = codes >= 0
            index, codes = values.index[present], codes[present]
        else:
            kept = values.dropna()
            codes, uniques = pd.factorize(_as_text(kept) if len(kept) else kept)
            uniques = np.asarray(uniques, dtype=object)
            arrow = _as_arrow(uniques)
            index = kept.index
        # ISO 8601 times (a timestamp column is distinct on every row) hold nothing to find.
        times = _prefilter_mask(arrow, ISO_TIME)
        if times.any():
            keep = np.flatnonzero(~times)
            remap = np.full(len(uniques), -1, dtype=np.int64)
            remap[keep] = np.arange(len(keep))
            codes, uniques = remap[codes], uniques[keep]
            arrow = arrow.filter(pa.array(~times))
        #: Labels of the non-null rows; ``codes[k]`` is row k's position in ``uniques``
        #: (-1 for a time).
        self.index: pd.Index = index
        self.codes: np.ndarray = codes
        self.uniques: np.ndarray = uniques
        self._arrow = arrow
        self._prefilter: Prefilter | None = None
        self._opaque: np.ndarray | None = None
        self._known: tuple[np.ndarray, np.ndarray] | None = None
        self._identities: KnownIdentities | None = None
        #: identities.find per text (values and their decoded copies), for `_detect_one`.
        self.known_found: dict[str, list[Match]] = {}

    def prefilter(self, positions: np.ndarray) -> Prefilter:
        """Prefilter answers for the values at ``positions`` (kept while the next search
        asks about the same values, as the rules of one column do)."""
        if self._prefilter is None or not np.array_equal(self._prefilter.positions, positions):
            whole = len(positions) == len(self.uniques)
            self._prefilter = Prefilter(
                positions, self._arrow if whole else self._arrow.take(pa.array(positions)),
                self.opaque[positions])
        return self._prefilter

    @property
    def opaque(self) -> np.ndarray:
        """Which values are opaque ids (a GUID or hex digest as the whole value, not text
        written in hex)."""
        if self._opaque is None:
            opaque = _prefilter_mask(self._arrow, OPAQUE_ID)
            if opaque.any():
                at = np.flatnonzero(opaque)
                opaque[at[_prefilter_mask(self._arrow.take(pa.array(at)), HEX_TEXT)]] = False
            self._opaque = opaque
        return self._opaque

    def known(self, identities: KnownIdentities, positions: np.ndarray) -> np.ndarray:
        """Whether the directory automaton hits each of the values at ``positions``; the
        automaton runs once per value, only over values asked about."""
        if identities is not self._identities or self._known is None:
            self._identities = identities
            self._known = np.zeros(len(self.uniques), dtype=bool), \
                np.zeros(len(self.uniques), dtype=bool)
            self.known_found = {}
        answers, done = self._known
        need = positions[~done[positions]]
        if len(need):
            answers[need] = identities.candidates(self.uniques[need].tolist())
            done[need] = True
        return answers[positions]


def detect(
    values: pd.Series,
    entities: Sequence[str],
    *,
    identities: KnownIdentities | None = None,
    decode: bool = True,
    exclude: Sequence[str] = (),
    memo: dict[str, Match | None] | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """Detect `entities` in a Series; one row per matching input label.

    Works on ``values.dropna()`` of any dtype (non-strings are converted with
    ``str``). The result is indexed by the input's index labels (only rows
    with a match; the first match in the order of `entities`) with columns
    ``entity``, ``detector``, ``explanation`` (never the raw value) and
    ``matched`` (the raw matched text, for the engine to mask). KNOWN_IDENTITY
    and KNOWN_ORGANIZATION are skipped when `identities` is None. `exclude`
    names false-positive filters for the field's context, e.g.
    ``("version",)`` for OSVersion. ``kind`` is the field's kind (declared, or told by
    its name): its named detectors judge their entities (a random GUID is a machine id
    under ``MachineId``).

    ``memo`` carries results across calls with the same arguments (the chunks of
    one column in a scan): a value seen before is not examined again. It stops
    growing at `MEMO_LIMIT` values, so memory stays bounded.
    """
    _check_args(entities, exclude)
    if not any(e not in KNOWN_ENTITIES or identities is not None for e in entities) \
            or values.dropna().empty:
        return _empty(values.index)
    distinct = Distinct(values)
    found = search(distinct, entities, identities=identities, decode=decode,
                   exclude=exclude, memo=memo, kind=kind)
    rows, matches = matched_rows(distinct, found)
    if not len(rows):
        return _empty(values.index)
    return pd.DataFrame({
        "entity": [m.entity for m in matches],
        "detector": [m.detector for m in matches],
        "explanation": [m.explanation for m in matches],
        "matched": [m.value for m in matches],
    }, index=distinct.index[rows], columns=COLUMNS, dtype=object)


def search(
    distinct: Distinct,
    entities: Sequence[str],
    *,
    identities: KnownIdentities | None = None,
    decode: bool = True,
    exclude: Sequence[str] = (),
    memo: dict[str, Match | None] | None = None,
    kind: str | None = None,
) -> dict[int, Match]:
    """The first match of each distinct value that has one, by position in
    ``distinct.uniques``; the arguments are those of :func:`detect` (a memo belongs to
    one set of arguments: a field of another kind needs its own)."""
    ents = tuple(e for e in entities if e not in KNOWN_ENTITIES or identities is not None)
    uniques = distinct.uniques
    if not ents or not len(uniques):
        return {}
    excl = tuple(exclude)
    detectors = registry(kind)
    remembered = memo is not None and not memo_given_up(memo)
    hits: dict[int, Match] = {}
    # Opaque ids can only be a digest of a directory entry or an id some detectors look
    # for: without those among the entities, nothing in them is looked at (the other
    # prefilters never hit them anyway).
    known_only = False
    if any(e not in KNOWN_ENTITIES and sees_opaque(detectors[e]) for e in ents) \
            or not distinct.opaque.any():
        plain = np.arange(len(uniques))
    elif any(e in KNOWN_ENTITIES for e in ents):
        plain = np.arange(len(uniques))
        known_only = remembered  # only the directory looks at them
    else:
        plain = np.flatnonzero(~distinct.opaque)
    if not remembered:
        return _detect_uniques(distinct, plain, ents, identities, decode, excl, detectors)
    assert memo is not None
    if known_only:
        # The directory's answers for the column's opaque ids are kept by ``distinct`` for
        # every rule of the column: cheaper than a memo lookup per id and rule.
        plain = np.flatnonzero(~distinct.opaque)
        hits.update(_detect_opaque(distinct, ents, identities, excl, detectors))
    # Values seen by an earlier chunk are answered from the memo, the others examined.
    texts = uniques[plain].tolist()
    todo: list[int] = []
    for i, result in zip(plain.tolist(), map(memo.get, texts, repeat(_UNSEEN)), strict=True):
        if result is _UNSEEN:
            todo.append(i)
        elif result is not None:
            hits[i] = result
    # Later chunks of a column whose values hardly come back go straight to the prefilters.
    given_up = give_up_memo(memo, len(todo), len(texts))
    fresh = _detect_uniques(distinct, np.array(todo, dtype=np.int64), ents, identities, decode,
                            excl, detectors)
    if not given_up and len(memo) < MEMO_LIMIT:
        memo.update(zip(uniques[todo].tolist(), repeat(None)))
        memo.update({uniques[i]: m for i, m in fresh.items()})
    hits.update(fresh)
    return hits


def _detect_opaque(
    distinct: Distinct,
    ents: tuple[str, ...],
    identities: KnownIdentities | None,
    excl: tuple[str, ...],
    detectors: Mapping[str, Detector],
) -> dict[int, Match]:
    """What :func:`_detect_uniques` finds in the opaque ids when no entity but KNOWN_*
    looks at them: no prefilter or decoding hits one, so only the directory's candidates
    are examined, for the KNOWN_* entities."""
    assert identities is not None
    at = np.flatnonzero(distinct.opaque)
    chosen = tuple(e for e in ents if e in KNOWN_ENTITIES)
    hits: dict[int, Match] = {}
    for i in at[distinct.known(identities, at)].tolist():
        found = _detect_one(distinct.uniques[i][:MAX_VALUE_LEN], chosen, identities, False, excl,
                            distinct.known_found, detectors)
        if found is not None:
            hits[i] = found
    return hits


def matched_rows(distinct: Distinct, hits: dict[int, Match]) -> tuple[np.ndarray, list[Match]]:
    """Positions in ``distinct.index`` of the rows whose value has a match, with it (a
    repeated label counts once, at its first row)."""
    if not hits:
        return np.empty(0, dtype=np.int64), []
    hit_codes = np.fromiter(hits, dtype=np.int64, count=len(hits))
    rows = np.flatnonzero(np.isin(distinct.codes, hit_codes))
    if not distinct.index.is_unique:
        rows = rows[~distinct.index[rows].duplicated(keep="first")]
    return rows, [hits[c] for c in distinct.codes[rows].tolist()]


def _detect_uniques(
    distinct: Distinct,
    todo: np.ndarray,
    ents: tuple[str, ...],
    identities: KnownIdentities | None,
    decode: bool,
    excl: tuple[str, ...],
    detectors: Mapping[str, Detector],
) -> dict[int, Match]:
    """The first match of each distinct value at ``todo`` (by position), prefiltered
    column-wise: only a value some prefilter lets through is examined (the caller
    remembers the answers)."""
    if not len(todo):
        return {}
    # Which entities may match each value (KNOWN_* use the automaton on all).
    masks: dict[str, np.ndarray] = {}
    prefilter = distinct.prefilter(todo)
    uniques_all = distinct.uniques
    batch: dict[str, dict[str, list[Match]]] = {}
    known = None
    for entity in ents:
        if entity in KNOWN_ENTITIES:
            if known is None:
                assert identities is not None
                known = distinct.known(identities, todo)
            masks[entity] = known
            continue
        det = detectors[entity]
        find_many = getattr(det, "find_many", None)
        if find_many is not None:
            # One multi-pattern pass over the values: its answers are the prefilter,
            # and _find takes them as they are.
            plain = np.flatnonzero(~prefilter.opaque) if not sees_opaque(det) \
                else np.arange(len(todo))
            texts = uniques_all[todo[plain]].tolist()
            answers = find_many(texts)  # whole values: Hyperscan is linear in their length
            mask = np.zeros(len(todo), dtype=bool)
            mask[plain] = np.fromiter(map(bool, answers), dtype=bool, count=len(plain))
            batch[entity] = {t[:MAX_VALUE_LEN]: a for t, a in zip(texts, answers, strict=True)}
            masks[entity] = mask
            continue
        mask = np.zeros(len(todo), dtype=bool)
        for pattern, opaque in _prefilters(det):
            mask |= prefilter.hits(pattern, opaque)
        masks[entity] = mask
    decodable = prefilter.hits(DECODE_PREFILTER) if decode else None
    hits: dict[int, Match] = {}
    # Pack each value's candidate entities into one integer (bit j: ents[j]).
    packed = np.zeros(len(todo), dtype=np.int64)
    for j, entity in enumerate(ents):
        packed |= masks[entity].astype(np.int64) << j
    if decodable is not None:
        packed[decodable] = (1 << len(ents)) - 1  # decoded copies may hold any entity
    chosen_by_bits: dict[int, tuple[str, ...]] = {}
    uniques = distinct.uniques
    for k in np.flatnonzero(packed):
        bits = int(packed[k])
        chosen = chosen_by_bits.get(bits)
        if chosen is None:
            chosen = tuple(e for j, e in enumerate(ents) if bits >> j & 1)
            chosen_by_bits[bits] = chosen
        i = int(todo[k])
        found = _detect_one(
            uniques[i][:MAX_VALUE_LEN],
            chosen,
            identities,
            decodable is not None and bool(decodable[k]),
            excl,
            distinct.known_found,
            detectors,
            batch,
        )
        if found is not None:
            hits[i] = found
    return hits
