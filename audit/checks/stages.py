"""``stage-pair``: one field compared between the transit capture and the stored dump of
one scan (``scan CAPTURE --stored DUMP``).

The practices promise that the census UserID "is hashed twice: once on the client and
again on the telemetry service", and that the error-data UserID, sent in cleartext, is
hashed before it is stored. Neither shows in one stage alone: a stored census UserID
equal to a sent one was not hashed again (``match: same``), and a stored error UserID
equal to an unsalted MD5, SHA-1, SHA-256 or SHA-512 digest of a sent cleartext UserID
(as is or lower-case, in hex, as a GUID, hashed twice or in base64) is linkable by
anyone who holds the capture or a directory (``match: unsalted-digest``).

Streamed: the ``from`` stage keeps each distinct value's keyed 64-bit digest (of each
of its digest forms) with its first record; the ``to`` stage keeps two digests (of the
value as is and lower-case) and the line of each record. Matches are resolved at the
end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.checks import Scope, check_kind, hits, no_hits
from audit.checks.identifiers import remembered
from audit.detectors.known import DIGEST_CODES, digest_variant
from audit.fingerprint import mask, printable, pseudonym_digests
from audit.lazy import lazy
from audit.model import Stage
from audit.rulepack import meta_params

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.context import ScanContext
    from audit.rulepack import Category, Rule
else:
    np = lazy("numpy")
    pd = lazy("pandas")

PARAMS = meta_params("stage_pair_params")
SAME = -1  # the variant code of a value compared as itself


@dataclass(frozen=True, slots=True, eq=False)
class PairState:
    """Cross-stage state. ``names``: input names (codes point into it).

    ``from_*``: one row per distinct digest of the from stage (the value's own, or one
    per digest form), its first record's value, variant code, input and line.
    ``to_*``: one row per record of the to stage: digests of its value as is and
    lower-case, input, line."""

    names: np.ndarray  # object
    from_digest: np.ndarray  # uint64
    from_value: np.ndarray  # object
    from_code: np.ndarray  # int16: SAME, or a digest_variant code
    from_source: np.ndarray  # int32
    from_line: np.ndarray  # int64
    to_digest: np.ndarray  # uint64, shape (n, 2)
    to_source: np.ndarray  # int32
    to_line: np.ndarray  # int64


def _empty() -> PairState:
    i32, i64, obj = np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, object)
    return PairState(obj, np.empty(0, np.uint64), obj, np.empty(0, np.int16), i32, i64,
                     np.empty((0, 2), np.uint64), i32, i64)


def _stage(rule: Rule, end: str) -> Stage:
    return Stage(rule.params["pair"][end])


def collect_pairs(rule: Rule, events: pd.DataFrame, meta: pd.DataFrame, ctx: ScanContext
                  ) -> tuple[pd.DataFrame, PairState]:
    """Per chunk: what its stage contributes to the comparison (nothing from a stage the
    pair does not name)."""
    name = rule.params["field"]
    if name not in events.columns:
        return no_hits(), _empty()
    values = events[name].dropna()
    if values.dtype == object:  # mixed values: as text
        values = values.map(str)
    if values.empty:
        return no_hits(), _empty()
    at = events.index.get_indexer(values.index)
    sources, names = pd.factorize(meta["source"].to_numpy()[at])
    lines = meta["line"].to_numpy()[at].astype(np.int64)
    texts = values.to_numpy(dtype=object)
    state = _empty()
    if ctx.stage is _stage(rule, "to"):
        digests = np.column_stack([pseudonym_digests(values, ctx.key),
                                   pseudonym_digests(values.str.lower(), ctx.key)])
        return no_hits(), PairState(np.asarray(names, dtype=object), *(
            getattr(state, f) for f in _FROM), digests, sources.astype(np.int32), lines)
    if ctx.stage is not _stage(rule, "from"):
        return no_hits(), state
    codes, uniques = pd.factorize(texts)
    firsts = np.unique(codes, return_index=True)[1]  # each distinct value's first record
    same = rule.params["match"] == "same"
    if same:  # one cheap digest a value: nothing worth remembering
        forms = _forms(list(uniques), True, name, ctx.key)
    else:
        memo = ctx.memo.setdefault(("stage-pair", rule.id), {})
        forms = remembered(memo, list(uniques), lambda new: _forms(new, False, name, ctx.key))
    counts = [len(d) for d, _ in forms]
    picked = np.repeat(firsts, counts)
    return no_hits(), PairState(
        np.asarray(names, dtype=object),
        np.concatenate([d for d, _ in forms]) if forms else np.empty(0, np.uint64),
        texts[picked], np.concatenate([c for _, c in forms]) if forms
        else np.empty(0, np.int16),
        sources[picked].astype(np.int32), lines[picked],
        *(getattr(state, f) for f in _TO))


_FROM = ("from_digest", "from_value", "from_code", "from_source", "from_line")
_TO = ("to_digest", "to_source", "to_line")


def _forms(values: list[str], same: bool, field: str, key: bytes
           ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per value: the keyed digests of each form a stored value may take, and their
    variant codes: the value itself (lower-case), or each of its unsalted digest variants
    (hex forms lower-case, base64 as is). Remembered per value across chunks: a user's
    40 digests are computed once per process."""
    texts: list[str] = []
    codes: list[int] = []
    counts: list[int] = []
    for value in values:
        if same:
            texts.append(value.lower())
            codes.append(SAME)
            counts.append(1)
            continue
        n = 0
        for code in range(DIGEST_CODES):
            variant = digest_variant(field, value, code)
            if variant is not None:
                text, _, _, hexlike = variant
                texts.append(text.lower() if hexlike else text)
                codes.append(code)
                n += 1
        counts.append(n)
    digests = pseudonym_digests(np.asarray(texts, dtype=object), key)
    ends = np.cumsum(counts)[:-1]
    return list(zip(np.split(digests, ends), np.split(np.asarray(codes, np.int16), ends),
                    strict=True))


def merge_pairs(parts: list[PairState]) -> PairState:
    """One state of many: input codes rewritten, the from side kept once per digest (its
    first record by input name and line), every to-stage record kept."""
    parts = [p for p in parts if len(p.from_digest) or len(p.to_line)]
    if not parts:
        return _empty()
    codes, uniques = pd.factorize(np.concatenate([p.names for p in parts]))
    maps = np.split(codes.astype(np.int32), np.cumsum([len(p.names) for p in parts])[:-1])
    names = np.asarray(uniques, dtype=object)
    digest = np.concatenate([p.from_digest for p in parts])
    source = np.concatenate([m[p.from_source] for m, p in zip(maps, parts, strict=True)])
    line = np.concatenate([p.from_line for p in parts])
    code = np.concatenate([p.from_code for p in parts])
    rank = np.unique(names[source], return_inverse=True)[1] if len(source) else source
    order = np.lexsort((code, line, rank, digest))
    first = order[np.r_[True, digest[order][1:] != digest[order][:-1]]] if len(order) \
        else order
    return PairState(
        names, digest[first], np.concatenate([p.from_value for p in parts])[first],
        code[first], source[first], line[first],
        np.concatenate([p.to_digest for p in parts]),
        np.concatenate([m[p.to_source] for m, p in zip(maps, parts, strict=True)]),
        np.concatenate([p.to_line for p in parts]))


def compact_pairs(parts: list[PairState]) -> list[PairState]:
    """Fold the states gathered so far into one."""
    return [merge_pairs(parts)]


def finish_pairs(rule: Rule, partials: list[PairState], ctx: ScanContext
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A hit at each to-stage record whose value matches a from-stage value."""
    state = merge_pairs(partials)
    order = np.argsort(state.from_digest, kind="stable")
    known = state.from_digest[order]
    n = len(state.to_line)
    match = np.full(n, -1, dtype=np.int64)
    if len(known):
        for column in (1, 0):  # the value as is wins over its lower-case form
            digest = state.to_digest[:, column]
            at = np.minimum(np.searchsorted(known, digest), len(known) - 1)
            hit = known[at] == digest
            match[hit] = order[at[hit]]
    rows = np.flatnonzero(match >= 0)
    field = rule.params["field"]
    frm, to = rule.params["pair"]["from"], rule.params["pair"]["to"]
    summary = {"reidentification": [{
        "rule": rule.id, "analysis": "stage-pair", "field": field, "from": frm, "to": to,
        "match": rule.params["match"], "from_values": len(np.unique(state.from_value))
        if len(state.from_value) else 0, "to_records": n, "to_records_matched": len(rows),
    }]}
    if not len(rows):
        return no_hits().assign(source=None, line=None), summary
    other = match[rows]
    values, explanations = [], []
    for o in other.tolist():
        where = f"{printable(state.names[state.from_source[o]])}:{int(state.from_line[o])}"
        code, sent = int(state.from_code[o]), str(state.from_value[o])
        if code == SAME:
            values.append(sent)
            explanations.append(f"equal to the {frm} {field} at {where}: the service did not "
                                "hash it again")
            continue
        variant = digest_variant(field, sent, code)
        assert variant is not None
        values.append(variant[0])
        explanations.append(f"the unsalted {variant[1]} of the {frm} cleartext {field} "
                            f"{mask(sent, ctx.key)} at {where}: linkable by anyone who holds "
                            "the capture or a directory")
    found = hits(np.arange(len(rows)), field=field, value=values,
                 detector=f"{frm}-{to}", explanation=explanations)
    return found.assign(source=state.names[state.to_source[rows]],
                        line=state.to_line[rows]), summary


def needs_stages(rule: Rule) -> frozenset[Stage]:
    """Both stages of the pair."""
    return frozenset({_stage(rule, "from"), _stage(rule, "to")})


def scope(rule: Rule, category: Category) -> Scope:
    """The compared field."""
    return Scope(fields=(rule.params["field"],))


def validate(params: Any, gates: Any, fields: Any) -> str | None:
    """A pair of two different stages."""
    if params["pair"]["from"] == params["pair"]["to"]:
        return "a stage pair compares two different stages"
    return None


check_kind("stage-pair", params_schema=PARAMS, finish=finish_pairs, compact=compact_pairs,
           scope=scope, needs_stages=needs_stages, validate=validate)(collect_pairs)
