"""Check kind ``forbidden-content``: personal or organisational data where it may not be.

A rule lists detector entities and the fields to search::

    kind: forbidden-content
    params:
      entities: [EMAIL, SIP_URI, PHONE, IP_ADDRESS, PERSON_NAME, KNOWN_IDENTITY]
      fields: "*"                      # every column, declared or not (the default)
      allow: {ClientIP: [IP_ADDRESS]}  # entities that are fine in one field

For example a census event with ``"DeviceModel": "Amos Marble's iPhone"`` is
flagged as PERSON_NAME in DeviceModel, while ``"OSVersion": "10.0.2.15"`` is
not an IP address: the field's schema ``kind`` (``version``) gives the
detectors their context (see :data:`KIND_CONTEXT`), and a kind may bring detectors
of its own (:data:`audit.detectors.NAMED`: a random GUID is a MACHINE_ID in a field
of kind ``machine-id``). Fields the schema does not declare are searched for every
entity of the rule: that is where leaks hide. Their only context is what their name
tells: the category's ``field_hints`` give ``ext.device.localId`` or ``SerialNumber``
a kind, and so the context of that kind. They are searched together, their values
stacked into one column per hinted kind (most have none), so that a record with
100,000 undeclared keys costs one search, not 100,000.

``KNOWN_IDENTITY`` and ``KNOWN_ORGANIZATION`` are searched only when a
directory list is given (``--identities``); without it the rule still runs with
the pattern detectors. Detection runs once per distinct value of a column
(:func:`audit.detectors.detect`), never once per record. One hit per record and
field: the first entity found, in the order of ``entities``; the hit's value is
the matched text, which the engine masks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.checks import check_kind, hits, no_hits
from audit.context import shared
from audit.detectors import ENTITIES, FILTERS, KNOWN_IDENTITY, NAMED
from audit.detectors.prefixed_ids import ID_PREFIX
from audit.detectors.regional import event_regions, regional_phones
from audit.detectors.scan import Distinct, is_text, matched_rows, search
from audit.lazy import lazy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.context import ScanContext
    from audit.rulepack import FieldSpec, Rule
else:
    np = lazy("numpy")
    pd = lazy("pandas")

_ENTITY_LIST = {"type": "array", "items": {"enum": list(ENTITIES)}, "uniqueItems": True}

PARAMS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entities"],
    "properties": {
        "entities": {
            **_ENTITY_LIST,
            "minItems": 1,
            "description": "Detector entities to search for, in order of preference.",
        },
        "fields": {
            "description": 'Fields to search: a list of names, or "*" for every field '
            "(declared or not). Default: every field.",
            "oneOf": [
                {"const": "*"},
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            ],
        },
        "skip_fields": {
            "description": "Fields not searched by this rule (another rule covers them).",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "allow": {
            "description": "Per field, entities that are allowed there.",
            "type": "object",
            "additionalProperties": _ENTITY_LIST,
        },
        "exclude_kinds": {
            "description": "Field kinds (schema ``kind``) whose fields are not searched.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
    },
}


@dataclass(frozen=True, slots=True)
class KindContext:
    """What a field's kind changes: false-positive filters and entities not searched."""

    exclude: tuple[str, ...] = ()
    drop: frozenset[str] = frozenset()


#: Identifiers of a device or an account. A declared id field (a hashed UserID, a random
#: DeviceID) is judged by the identifier rules (census/unhashed-user-id,
#: census/device-id-not-random), which say what is wrong with it: not again here.
DEVICE_AND_ACCOUNT_IDS = frozenset({
    "DEVICE_SERIAL", "PRODUCT_KEY", "PRODUCT_ID", "MACHINE_ID", "GUID_V1", "XUID", "ACCOUNT_ID",
})

#: Field kind → detection context. Kinds not listed are searched for every entity.
KIND_CONTEXT: Mapping[str, KindContext] = {
    "version": KindContext(exclude=("version",)),  # 10.0.2.15 is not an IP address
    "language-tag": KindContext(exclude=("locale",)),  # EN-US is not a name
    "thread-id": KindContext(exclude=("opaque_base64",)),  # an opaque id is not a secret
    "error-code": KindContext(exclude=("hresult",)),  # -2147467259 is not a phone number
    # A known identity in a hashed id (as is or as an unsalted digest) is the
    # hashed-identifier rule's finding, with a better explanation.
    "hashed-id": KindContext(drop=frozenset({KNOWN_IDENTITY}) | DEVICE_AND_ACCOUNT_IDS),
    "random-guid": KindContext(drop=DEVICE_AND_ACCOUNT_IDS),
}

assert all(f in FILTERS for c in KIND_CONTEXT.values() for f in c.exclude)
assert all(e in ENTITIES for c in KIND_CONTEXT.values() for e in c.drop)
assert all(e in ENTITIES for named in NAMED.values() for e in named)


@check_kind("forbidden-content", params_schema=PARAMS_SCHEMA)
def forbidden_content(rule: Rule, events: pd.DataFrame, ctx: ScanContext) -> pd.DataFrame:
    """One hit per record and field holding one of the rule's entities."""
    params = rule.params
    entities: list[str] = list(params["entities"])
    category = ctx.rulepack.categories[rule.category]
    declared = category.fields
    allow: Mapping[str, Sequence[str]] = params.get("allow") or {}
    parts = []
    # Undeclared fields by the entities searched in them (one group but for ``allow``)
    # and the kind their name tells (None for most).
    undeclared: dict[tuple[tuple[str, ...], str | None], list[str]] = {}
    hinted_kind = category.hint_matcher()
    regions = _regions(events, declared, hinted_kind) if "PHONE" in entities else None
    for column in _columns(rule, events, declared):
        spec = declared.get(column)
        kind = spec.kind if spec else hinted_kind(column)
        context = KIND_CONTEXT.get(kind, KindContext()) if kind else KindContext()
        wanted = [e for e in entities if e not in context.drop and e not in allow.get(column, ())]
        if not wanted:
            continue
        if spec is None:
            undeclared.setdefault((tuple(wanted), kind), []).append(column)
            continue
        # One Distinct per column and rows, shared by the rules of the category.
        distinct = shared(events, ("distinct-text", column),
                          lambda column=column: Distinct(_as_text(events[column])))
        memo = ctx.memo.setdefault(("forbidden-content", rule.id, column), {})
        found = search(distinct, wanted, identities=ctx.identities, exclude=context.exclude,
                       memo=memo, kind=kind)
        rows, matches = matched_rows(distinct, found)
        if regions is not None and "PHONE" in wanted:
            present = np.flatnonzero(events[column].notna().to_numpy())
            rows, matches = _and_regional(rows, matches, regional_phones(
                distinct, present, regions, _settled(found, wanted), context.exclude))
        if len(rows):
            parts.append(
                hits(
                    distinct.index[rows],
                    field=column,
                    value=[m.value for m in matches],
                    detector=[m.entity for m in matches],
                    explanation=[m.explanation for m in matches],
                )
            )
    for (wanted, kind), columns in undeclared.items():
        # The fields' values stacked into one column, shared by the rules of the category.
        stacked = shared(events, ("stacked-text", tuple(columns)),
                         lambda columns=columns: Stacked.of(events, columns))
        context = KIND_CONTEXT.get(kind, KindContext()) if kind else KindContext()
        memo = ctx.memo.setdefault(("forbidden-content", rule.id, wanted, kind), {})
        found = search(stacked.distinct, wanted, identities=ctx.identities,
                       exclude=context.exclude, memo=memo, kind=kind)
        cells, matches = matched_rows(stacked.distinct, found)
        if regions is not None and "PHONE" in wanted:
            event_rows = stacked.rows[stacked.distinct.index.to_numpy()]
            cells, matches = _and_regional(cells, matches, regional_phones(
                stacked.distinct, event_rows, regions, _settled(found, wanted), context.exclude))
        if len(cells):
            at = stacked.distinct.index.to_numpy()[cells]
            parts.append(
                hits(
                    events.index[stacked.rows[at]],
                    field=stacked.names[stacked.columns[at]],
                    value=[m.value for m in matches],
                    detector=[m.entity for m in matches],
                    explanation=[m.explanation for m in matches],
                )
            )
    return pd.concat(parts) if parts else no_hits()


#: Field kind of an event's locale tag (``UserLanguage``): its region hints PHONE.
LOCALE_KIND = "language-tag"


def _regions(events: pd.DataFrame, declared: Mapping[str, FieldSpec],
             hinted_kind: Any) -> tuple[np.ndarray, list[str]] | None:
    """Each event's region from its locale field (declared of kind ``language-tag``,
    else so named by a field hint), for national phone numbers; None without one."""
    name = next((c for c, spec in declared.items() if spec.kind == LOCALE_KIND and c in events),
                None)
    if name is None:
        name = next((c for c in events.columns
                     if c not in declared and hinted_kind(c) == LOCALE_KIND), None)
    if name is None:
        return None
    return shared(events, ("event-regions", name), lambda: event_regions(events[name]))


def _settled(found: Mapping[int, Any], wanted: Sequence[str]) -> dict[int, Any]:
    """The search's matches that a PHONE would not replace: PHONE or an entity before
    it in the rule's order (a Polish number read as a CA SIN is still a phone)."""
    before = set(wanted[:wanted.index("PHONE") + 1])
    return {i: m for i, m in found.items() if m.entity in before}


def _and_regional(rows: np.ndarray, matches: list[Any],
                  regional: tuple[np.ndarray, list[Any]]) -> tuple[np.ndarray, list[Any]]:
    """Rows and matches of a search with those of the regional PHONE pass, which replace
    the search's where both speak (see :func:`_settled`)."""
    if not len(regional[0]):
        return rows, matches
    keep = ~np.isin(rows, regional[0])
    kept = [m for m, k in zip(matches, keep.tolist(), strict=True) if k]
    return np.concatenate([rows[keep], regional[0]]), [*kept, *regional[1]]


@dataclass(frozen=True, slots=True)
class Stacked:
    """Many columns' values as one column of text: the present cells column by column,
    each with its row (a position in the frame) and its column (a position in
    ``names``); ``distinct`` is indexed by cell number."""

    names: np.ndarray
    rows: np.ndarray
    columns: np.ndarray
    distinct: Distinct

    @classmethod
    def of(cls, events: pd.DataFrame, names: list[str]) -> Stacked:
        """The cells of ``events[names]`` as text, as :func:`_as_text` gives a column's,
        converted a dtype at a time rather than a column at a time."""
        block = events[names]
        columns, rows = np.nonzero(block.notna().to_numpy().T)
        texts = np.empty(len(rows), dtype=object)
        by_dtype: dict[Any, list[int]] = {}
        for j, dtype in enumerate(block.dtypes.tolist()):
            by_dtype.setdefault(dtype, []).append(j)
        place = np.zeros(block.shape[1], dtype=np.intp)  # a column's place in its dtype's
        for positions in by_dtype.values():
            place[positions] = np.arange(len(positions))
            chosen = np.flatnonzero(np.isin(columns, positions))
            values = block.iloc[:, positions].to_numpy(dtype=object)
            cells = values[rows[chosen], place[columns[chosen]]].tolist()
            texts[chosen] = [v if type(v) is str else _text_of(v) for v in cells]
        return cls(np.asarray(block.columns, dtype=object), rows, columns,
                   Distinct(pd.Series(texts, dtype="string[pyarrow]")))


def _columns(rule: Rule, events: pd.DataFrame, declared: Mapping[str, FieldSpec]) -> list[str]:
    params = rule.params
    chosen = params.get("fields", rule.fields or "*")
    skip_kinds = set(params.get("exclude_kinds") or ())
    skip = set(params.get("skip_fields") or ())
    names = list(events.columns) if chosen == "*" else [c for c in chosen if c in events.columns]
    out = []
    for name in names:
        spec = declared.get(name)
        if name in skip or (spec is not None and spec.kind in skip_kinds) \
                or name.startswith(ID_PREFIX):
            continue
        out.append(name)
    return out


def _as_text(values: pd.Series) -> pd.Series:
    """The column's values as text: strings as they are, numbers as JSON would write them."""
    if is_text(values):
        return values  # missing values included: Distinct leaves them out
    present = values.dropna()
    if present.empty:
        return present
    inferred = pd.api.types.infer_dtype(present, skipna=True)
    if inferred == "string":
        return present
    if inferred in ("integer", "boolean"):
        return present.astype(str)
    if inferred == "floating" and pd.api.types.is_float_dtype(present.dtype):
        whole = np.isfinite(present) & (present % 1 == 0)
        if whole.all():  # counts in a column with gaps: 12.0 is written 12
            return present.astype(np.int64).astype(str)
    return present.map(_text_of)


def _text_of(value: Any) -> str:
    """A value as text, as :func:`_as_text` writes a column's (a whole float as an
    integer, a list or object as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict | tuple):
        try:
            return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError):
            return str(value)
    return str(value)
