"""``linkage``: a pseudonym found beside a cleartext identity in another category.

A census DeviceID or hashed UserID identifies nobody on its own; the same value in an
error event that carries the user's cleartext UserID, SIP URI or IP address (or in a
usage event that names the tenant) links every census record of that pseudonym to the
person or organisation. The rule file names the pseudonyms, and per other category the
fields searched for them (``carriers``, globs) and the identity fields.

Streamed: each census record keeps its input, line and a keyed 64-bit digest per
pseudonym (8 bytes each); of the other categories, each distinct digest found beside an
identity keeps one event, the first by input name and line, with its carrier's text and
the identity masked. Links are resolved once the whole scan is merged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.checks import Scope, check_kind, hits, no_hits
from audit.fingerprint import mask, printable, pseudonym_digests
from audit.lazy import lazy
from audit.rulepack import glob_regex, meta_params

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.context import ScanContext
    from audit.rulepack import Category, Rule
else:
    np = lazy("numpy")
    pd = lazy("pandas")

PARAMS = meta_params("linkage_params")
#: What a pseudonym looks like (a census DeviceID or hashed UserID): a GUID, braced or
#: not, or a hex digest. Only such values of other categories are compared, and an
#: identity field holding one is not a cleartext identity.
PSEUDONYM_SHAPE = (r"\{?[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?"
                   r"[0-9A-Fa-f]{12}\}?|[0-9A-Fa-f]{16,128}")


@dataclass(frozen=True, slots=True, eq=False)
class LinkState:
    """Cross-record state. ``names`` holds input names, field names and categories once
    each; the other columns are codes into it.

    ``own_*``: one row per record of the rule's category with a pseudonym, its digest per
    pseudonym field (0: absent). ``other_*``: one row per distinct digest found in
    another category beside an identity, the first such event's."""

    names: np.ndarray  # object
    own_source: np.ndarray  # int32
    own_line: np.ndarray  # int64
    own_digest: np.ndarray  # uint64, one column per pseudonym field
    other_digest: np.ndarray  # uint64
    other_category: np.ndarray  # int32
    other_carrier: np.ndarray  # int32
    other_identity: np.ndarray  # int32
    other_clear: np.ndarray  # object: the identity's value (masked when shown)
    other_value: np.ndarray  # object: the carrier's text (the pseudonym)
    other_source: np.ndarray  # int32
    other_line: np.ndarray  # int64


def _empty(width: int) -> LinkState:
    i32, obj = np.empty(0, dtype=np.int32), np.empty(0, dtype=object)
    i64, u64 = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    return LinkState(obj, i32, i64, np.empty((0, width), dtype=np.uint64), u64, i32, i32, i32,
                     obj, obj, i32, i64)


def _texts(column: pd.Series) -> pd.Series:
    """The column's present values as text (numbers as every format writes them)."""
    present = column.dropna()
    if pd.api.types.infer_dtype(present, skipna=True) == "string":
        return present
    return present.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer()
                       else str(v))


def _digests(values: pd.Series, ctx: ScanContext) -> np.ndarray:
    """Keyed digests of the values case-folded: a GUID or hex id in capitals is the same
    pseudonym in small letters."""
    return pseudonym_digests(values.str.lower(), ctx.key)


def collect_pseudonyms(rule: Rule, events: pd.DataFrame, meta: pd.DataFrame,
                       ctx: ScanContext) -> tuple[pd.DataFrame, LinkState]:
    """Per chunk of the rule's category: each record's digests, input and line."""
    fields = list(rule.params["pseudonyms"])
    digests = np.zeros((len(events), len(fields)), dtype=np.uint64)
    for j, name in enumerate(fields):
        if name in events.columns:
            values = _texts(events[name])
            at = events.index.get_indexer(values.index)
            digests[at, j] = _digests(values, ctx)
    kept = np.flatnonzero(digests.any(axis=1))
    if not len(kept):
        return no_hits(), _empty(len(fields))
    source_codes, names = pd.factorize(meta["source"].to_numpy()[kept])
    state = _empty(len(fields))
    return no_hits(), LinkState(
        np.asarray(names, dtype=object), source_codes.astype(np.int32),
        meta["line"].to_numpy()[kept].astype(np.int64), digests[kept],
        *(getattr(state, f) for f in _OTHER))


_OTHER = ("other_digest", "other_category", "other_carrier", "other_identity",
          "other_clear", "other_value", "other_source", "other_line")


def _link_of(rule: Rule, category: str) -> dict[str, Any]:
    return next(link for link in rule.params["links"] if link["category"] == category)


def _carriers(columns: Sequence[str], globs: Sequence[str], skip: set[str]) -> list[str]:
    """The columns a glob names (its whole dotted name or last segment, case ignored)."""
    pattern = re.compile("|".join(f"(?:{glob_regex(g)})" for g in globs), re.IGNORECASE)
    return [c for c in columns if c not in skip
            and (pattern.fullmatch(c) or pattern.fullmatch(c.rsplit(".", 1)[-1]))]


def gather_links(rule: Rule, category: str, events: pd.DataFrame, meta: pd.DataFrame,
                 ctx: ScanContext) -> LinkState:
    """Per chunk of another category: each distinct carrier digest found in an event that
    carries a cleartext identity, with the first such event."""
    width = len(rule.params["pseudonyms"])
    link = _link_of(rule, category)
    identity, clear = _identities(events, link["identities"])
    rows = np.flatnonzero(identity >= 0)
    if not len(rows):
        return _empty(width)
    skip = {ctx.rulepack.categories[category].select_field}
    names: list[str] = [category, *link["identities"]]
    parts = []
    linking = identity >= 0
    for carrier in _carriers(list(events.columns), link.get("carriers", ["*"]), skip):
        column = events[carrier]
        if column.dtype.kind in "biufcmM":  # numbers, flags and times are no pseudonyms
            continue
        chosen = linking & _shaped(column)  # only an id-shaped value can be a pseudonym
        if carrier in link["identities"]:  # an identity does not link its own value
            chosen &= identity != link["identities"].index(carrier)
        at = np.flatnonzero(chosen)
        if not len(at):
            continue
        names.append(carrier)
        parts.append((len(names) - 1, at, column.to_numpy(dtype=object)[at]))
    if not parts:
        return _empty(width)
    carrier_code = np.concatenate([np.full(len(at), c, dtype=np.int32) for c, at, _ in parts])
    at = np.concatenate([at for _, at, _ in parts])
    value = np.concatenate([v for _, _, v in parts])
    source_codes, sources = pd.factorize(meta["source"].to_numpy()[at])
    table = np.asarray([*names, *sources], dtype=object)
    state = LinkState(
        table, *(getattr(_empty(width), f) for f in ("own_source", "own_line", "own_digest")),
        other_digest=_digests(pd.Series(value, dtype="str"), ctx),
        other_category=np.zeros(len(at), dtype=np.int32),
        other_carrier=carrier_code,
        other_identity=(identity[at] + 1).astype(np.int32),
        other_clear=clear[at],
        other_value=value,
        other_source=(source_codes + len(names)).astype(np.int32),
        other_line=meta["line"].to_numpy()[at].astype(np.int64),
    )
    return _first_per_digest(state)


def _shaped(values: pd.Series) -> np.ndarray:
    """Which values have the shape of a pseudonym: a GUID or a hex digest (vectorised:
    Arrow's regular expressions on Arrow-backed text)."""
    try:
        return values.str.fullmatch(PSEUDONYM_SHAPE).to_numpy(dtype=bool, na_value=False)
    except AttributeError:  # a column of no text at all
        return np.zeros(len(values), dtype=bool)


def _identities(events: pd.DataFrame, fields: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the index in ``fields`` of its first identity field whose value is in
    cleartext, not shaped as a one-way hash (-1: none), and that value (kept in memory
    only: a finding shows it masked)."""
    found = np.full(len(events), -1, dtype=np.int64)
    clear = np.full(len(events), None, dtype=object)
    for j, name in reversed(list(enumerate(fields))):  # the first field wins: set last
        if name not in events.columns:
            continue
        column = events[name]
        at = np.flatnonzero(column.notna().to_numpy() & ~_shaped(column))
        if len(at):
            found[at], clear[at] = j, column.to_numpy(dtype=object)[at]
    return found, clear


def _first_per_digest(state: LinkState) -> LinkState:
    """Keep, per distinct other-side digest, its first event by input name and line."""
    if len(state.other_digest) <= 1:
        return state
    rank = np.unique(state.names[state.other_source], return_inverse=True)[1]
    order = np.lexsort((state.other_carrier, state.other_line, rank, state.other_digest))
    digest = state.other_digest[order]
    first = order[np.r_[True, digest[1:] != digest[:-1]]]
    return LinkState(state.names, state.own_source, state.own_line, state.own_digest,
                     *(getattr(state, f)[first] for f in _OTHER))


def merge_links(parts: list[LinkState]) -> LinkState:
    """One state of many: codes rewritten into the union of the name tables, every own
    record kept, one other event per digest."""
    parts = [p for p in parts if len(p.own_line) or len(p.other_line)]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return _empty(0)
    codes, uniques = pd.factorize(np.concatenate([p.names for p in parts]))
    maps = np.split(codes.astype(np.int32), np.cumsum([len(p.names) for p in parts])[:-1])
    width = max(p.own_digest.shape[1] for p in parts)
    own = [p.own_digest if p.own_digest.shape[1] == width
           else np.zeros((len(p.own_line), width), dtype=np.uint64) for p in parts]

    def joined(name: str, coded: bool = False) -> np.ndarray:
        return np.concatenate([m[getattr(p, name)] if coded else getattr(p, name)
                               for m, p in zip(maps, parts, strict=True)])

    return _first_per_digest(LinkState(
        np.asarray(uniques, dtype=object), joined("own_source", True), joined("own_line"),
        np.concatenate(own), joined("other_digest"), joined("other_category", True),
        joined("other_carrier", True), joined("other_identity", True),
        joined("other_clear"), joined("other_value"), joined("other_source", True),
        joined("other_line")))


def compact_links(parts: list[LinkState]) -> list[LinkState]:
    """Fold the states gathered so far into one."""
    return [merge_links(parts)]


def finish_links(rule: Rule, partials: list[LinkState], ctx: ScanContext
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A hit per record of the rule's category one of whose pseudonyms another category
    carries beside an identity: named by the first such pseudonym, at the record's line."""
    fields = list(rule.params["pseudonyms"])
    state = merge_links(partials)
    order = np.argsort(state.other_digest, kind="stable")
    known = state.other_digest[order]
    n = len(state.own_line)
    where = np.full((n, len(fields)), -1, dtype=np.int64)  # the other event, per field
    for j in range(min(len(fields), state.own_digest.shape[1])):
        digest = state.own_digest[:, j]
        at = np.minimum(np.searchsorted(known, digest), max(len(known) - 1, 0))
        hit = (digest != 0) & (known[at] == digest) if len(known) else np.zeros(n, bool)
        where[hit, j] = order[at[hit]]
    linked = np.flatnonzero((where >= 0).any(axis=1))
    summary = _summary(rule, state, where, linked)
    if not len(linked):
        return no_hits().assign(source=None, line=None), summary
    first_field = (where[linked] >= 0).argmax(axis=1)
    other = where[linked, first_field]
    names = state.names
    explanations = []
    for j, o, row in zip(first_field.tolist(), other.tolist(), linked.tolist(), strict=True):
        also = [fields[i] for i in np.flatnonzero(where[row] >= 0).tolist() if i != j]
        explanations.append(
            f"{fields[j]} is also in {names[state.other_category[o]]} event "
            f"{printable(names[state.other_source[o]])}:{int(state.other_line[o])} "
            f"(field {names[state.other_carrier[o]]}) beside cleartext "
            f"{names[state.other_identity[o]]} {mask(state.other_clear[o], ctx.key)}"
            + (f"; {', '.join(also)} too" if also else ""))
    found = hits(np.arange(len(linked)), field=[fields[j] for j in first_field.tolist()],
                 value=state.other_value[other], detector="linkage",
                 explanation=explanations)
    return found.assign(source=names[state.own_source[linked]],
                        line=state.own_line[linked]), summary


def _summary(rule: Rule, state: LinkState, where: np.ndarray, linked: np.ndarray
             ) -> dict[str, Any]:
    """How many records and devices (distinct first pseudonyms) are linkable, through
    which of their fields, and which categories and identity fields link them."""
    fields = list(rule.params["pseudonyms"])
    devices = state.own_digest[:, 0] if state.own_digest.shape[1] else np.empty(0, np.uint64)
    by_category: dict[str, int] = {}
    by_identity: dict[str, int] = {}
    for row in linked.tolist():
        o = where[row][where[row] >= 0][0]
        category = str(state.names[state.other_category[o]])
        identity = str(state.names[state.other_identity[o]])
        by_category[category] = by_category.get(category, 0) + 1
        by_identity[identity] = by_identity.get(identity, 0) + 1
    return {"reidentification": [{
        "rule": rule.id,
        "analysis": "linkage",
        "records": len(state.own_line),
        "records_linked": len(linked),
        "devices": int(np.unique(devices[devices != 0]).size),
        "devices_linked": int(np.unique(devices[linked][devices[linked] != 0]).size),
        "by_field": {name: int((where[:, j] >= 0).sum()) for j, name in enumerate(fields)},
        "by_category": dict(sorted(by_category.items())),
        "by_identity": dict(sorted(by_identity.items())),
    }]}


def gathers_from(rule: Rule) -> tuple[str, ...]:
    """The other categories the rule file links to."""
    return tuple(link["category"] for link in rule.params["links"])


def scope(rule: Rule, category: Category) -> Scope:
    """The pseudonyms: a category none of whose records carries one links nothing."""
    return Scope()


check_kind("linkage", params_schema=PARAMS, finish=finish_links, compact=compact_links,
           scope=scope, gather=gather_links, gathers_from=gathers_from)(collect_pseudonyms)
