"""``k-anonymity``: census quasi-identifiers shared by too few devices.

No single census value identifies anyone, yet the combination of app, device model,
OS version, language (and tenant or time zone where present) can: a class of
quasi-identifier values that fewer than ``k`` distinct devices share singles those
devices out. The rule file names the quasi-identifiers and ``k``; every class below it
is one finding, at its first record, listing its records' lines.

Streamed: per record only a class code, its input and line are kept, and only for
classes still below ``k`` (a class that reached ``k`` devices never drops below it, so
its lines are dropped); devices are kept as keyed 64-bit digests, each (class, device)
pair once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.checks import Scope, check_kind, hits, no_hits
from audit.errors import NotApplicable
from audit.fingerprint import mask, printable, pseudonym_digests
from audit.lazy import lazy
from audit.rulepack import meta_params

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from audit.context import ScanContext
    from audit.rulepack import Category, Rule
else:
    np = lazy("numpy")
    pd = lazy("pandas")

PARAMS = meta_params("k_anonymity_params")

#: Separates the values of a class key, and stands for an absent value (never in text
#: read from JSON, CSV or Parquet as a whole value).
SEP, ABSENT = "\x1f", "\x00"
#: Lines listed in a finding's explanation; the rest are counted.
LINES_LISTED = 10
#: Longest class value shown as is in an explanation.
SHOWN_CHARS = 40


@dataclass(frozen=True, slots=True, eq=False)
class ClassState:
    """Cross-record state: distinct class keys and input names (codes point into them),
    each distinct (class, device digest) pair, and the input and line of the records of
    classes not yet known to reach ``k``."""

    classes: np.ndarray  # object: class keys
    sources: np.ndarray  # object: input names
    pair_class: np.ndarray  # int32
    pair_device: np.ndarray  # uint64 keyed digest of the device id
    rec_class: np.ndarray  # int32
    rec_source: np.ndarray  # int32
    rec_line: np.ndarray  # int64
    k: int  # the rule's k: a class with k devices keeps no lines


def _empty(k: int) -> ClassState:
    codes, texts = np.empty(0, dtype=np.int32), np.empty(0, dtype=object)
    return ClassState(texts, texts, codes, np.empty(0, dtype=np.uint64), codes, codes,
                      np.empty(0, dtype=np.int64), k)


def class_keys(events: pd.DataFrame, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the code of its class, and the class keys (values joined by `SEP`, an
    absent field as `ABSENT`): codes combined column by column, texts built once per
    distinct class."""
    n = len(events)
    combined = np.zeros(n, dtype=np.int64)
    for name in names:
        if name in events.columns:
            column = events[name]
            if column.dtype == object:  # mixed values (a list is unhashable): as text
                column = column.map(_text_or_none, na_action="ignore")
            codes = pd.factorize(column)[0]
            width = int(codes.max(initial=-1)) + 2
            combined = pd.factorize(combined * width + (codes + 1))[0].astype(np.int64)
    firsts = np.full(int(combined.max(initial=-1)) + 1, n, dtype=np.int64)
    np.minimum.at(firsts, combined, np.arange(n))
    keys = np.full(len(firsts), "", dtype=object)
    for i, name in enumerate(names):
        if name in events.columns:
            column = events[name].iloc[firsts]
            text = column.astype("str") if pd.api.types.is_string_dtype(column) \
                else column.map(_text_or_none, na_action="ignore")
            text = text.fillna(ABSENT).to_numpy(dtype=object)
        else:
            text = np.array([ABSENT] * len(firsts), dtype=object)  # np.full drops NUL
        keys = keys + SEP + text if i else text  # element-wise, in numpy's loop
    return combined.astype(np.int32), keys


def _text_or_none(value: Any) -> str:
    """A value's text as every format gives it (3.0 from a float column is 3)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def collect_classes(rule: Rule, events: pd.DataFrame, meta: pd.DataFrame, ctx: ScanContext
                    ) -> tuple[pd.DataFrame, ClassState]:
    """Per chunk: no hits of its own; each record's class, device digest and line."""
    device_field = rule.params["device_field"]
    if device_field not in events.columns:
        return no_hits(), _empty(_k_of(rule))
    present = events[device_field].notna().to_numpy()
    if not present.any():
        return no_hits(), _empty(_k_of(rule))
    needed = [c for c in (device_field, *rule.params["quasi_identifiers"]) if c in events]
    rows = events[needed] if present.all() else events.loc[present, needed]
    devices = rows[device_field]
    if devices.dtype == object:  # mixed values: as every format writes them
        devices = devices.map(_text_or_none)
    codes, keys = class_keys(rows, rule.params["quasi_identifiers"])
    source_codes, source_names = pd.factorize(meta["source"].to_numpy()[present])
    digests = pseudonym_digests(devices, ctx.key)
    pairs = _distinct_pairs(codes, digests)
    return no_hits(), ClassState(
        classes=keys,
        sources=np.asarray(source_names, dtype=object),
        pair_class=codes[pairs],
        pair_device=digests[pairs],
        rec_class=codes,
        rec_source=source_codes.astype(np.int32),
        rec_line=meta["line"].to_numpy()[present].astype(np.int64),
        k=_k_of(rule),
    )


def _distinct_pairs(classes: np.ndarray, devices: np.ndarray) -> np.ndarray:
    """Positions of the first of each distinct (class, device) pair."""
    if not len(classes):
        return np.empty(0, dtype=np.intp)
    frame = pd.DataFrame({"c": classes, "d": devices})
    return np.flatnonzero(~frame.duplicated().to_numpy())


def _union(tables: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    codes, uniques = pd.factorize(np.concatenate(tables))
    ends = np.cumsum([len(t) for t in tables])
    return np.asarray(uniques, dtype=object), np.split(codes.astype(np.int32), ends[:-1])


def merge_classes(parts: list[ClassState]) -> ClassState:
    """One state of many: codes rewritten into the union of their texts, pairs kept once,
    and the lines of classes that reached ``k`` devices dropped."""
    k = parts[0].k if parts else 2
    parts = [p for p in parts if len(p.pair_class) or len(p.rec_class)]
    if not parts:
        return _empty(k)
    classes, class_maps = _union([p.classes for p in parts])
    sources, source_maps = _union([p.sources for p in parts])
    pair_class = np.concatenate([m[p.pair_class] for m, p in zip(class_maps, parts,
                                                                  strict=True)])
    pair_device = np.concatenate([p.pair_device for p in parts])
    kept = _distinct_pairs(pair_class, pair_device)
    pair_class, pair_device = pair_class[kept], pair_device[kept]
    rec_class = np.concatenate([m[p.rec_class] for m, p in zip(class_maps, parts,
                                                                strict=True)])
    small = np.bincount(pair_class, minlength=len(classes)) < k
    keep = small[rec_class]
    return ClassState(
        classes=classes,
        sources=sources,
        pair_class=pair_class,
        pair_device=pair_device,
        rec_class=rec_class[keep],
        rec_source=np.concatenate([m[p.rec_source] for m, p in zip(source_maps, parts,
                                                                    strict=True)])[keep],
        rec_line=np.concatenate([p.rec_line for p in parts])[keep],
        k=k,
    )


def _k_of(rule: Rule) -> int:
    return int(rule.params["k"])


def finish_classes(rule: Rule, partials: list[ClassState], ctx: ScanContext
                   ) -> tuple[pd.DataFrame, Mapping[str, Any]]:
    """A hit per class below ``k`` devices, at its first record; and the k histogram."""
    k = _k_of(rule)
    state = merge_classes(partials)
    sizes = np.bincount(state.pair_class, minlength=len(state.classes))
    stats = summarize_classes(rule, state, sizes)
    summary = {"reidentification": [stats]}
    least = int(rule.params.get("min_devices", 1))
    if stats["devices"] < least:  # a sample this small measures itself, not the population
        stats["assessed"] = False
        raise NotApplicable(f"k-anonymity is judged from {least:,} census devices on; this "
                            f"scan has {stats['devices']:,}", summary)
    small = np.flatnonzero((sizes > 0) & (sizes < k))
    if not len(small):
        return no_hits().assign(source=None, line=None), summary
    names = state.sources[state.rec_source]
    rank = np.unique(names, return_inverse=True)[1]
    order = np.lexsort((state.rec_line, rank, state.rec_class))
    rec_class = state.rec_class[order]
    starts = np.searchsorted(rec_class, small)
    stops = np.searchsorted(rec_class, small, side="right")
    qis = list(rule.params["quasi_identifiers"])
    masked = frozenset(rule.params.get("masked", ()))
    explanations, first_sources, first_lines = [], [], []
    for cls, start, stop in zip(small.tolist(), starts.tolist(), stops.tolist(), strict=True):
        at = order[start:stop]
        where = _lines(state.sources[state.rec_source[at]], state.rec_line[at])
        values = describe_class(state.classes[cls], qis, masked, ctx.key)
        explanations.append(f"k={int(sizes[cls])}: {int(sizes[cls])} device(s) share "
                            f"{values} (fewer than {k}); records {where}")
        first_sources.append(state.sources[state.rec_source[at[0]]])
        first_lines.append(int(state.rec_line[at[0]]))
    found = hits(np.arange(len(small)), field=None, value=state.classes[small],
                 detector="k-anonymity", explanation=explanations)
    return found.assign(source=first_sources, line=first_lines), summary


def describe_class(key: str, names: Sequence[str], masked: frozenset[str], secret: bytes
                   ) -> str:
    """``AppName=Teams, DeviceModel=Su•••ro#1a2b3c, TimeZone=(absent)``: values of the
    fields the rule masks are masked, the others shortened and escaped (dump text is
    untrusted)."""
    parts = []
    for name, value in zip(names, key.split(SEP), strict=True):
        if value == ABSENT:
            shown = "(absent)"
        elif name in masked:
            shown = mask(value, secret) or ""
        else:
            shown = value[:SHOWN_CHARS].encode("unicode_escape").decode("ascii")
            shown += "…" if len(value) > SHOWN_CHARS else ""
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def _lines(sources: np.ndarray, lines: np.ndarray) -> str:
    """``lines 3, 9`` of one input, ``a.jsonl:3, b.jsonl:9`` of several; at most
    `LINES_LISTED`, the rest counted."""
    one = len(set(sources.tolist())) == 1
    shown = [str(line) if one else f"{printable(src)}:{line}"
             for src, line in zip(sources[:LINES_LISTED].tolist(),
                                  lines[:LINES_LISTED].tolist(), strict=True)]
    more = len(lines) - len(shown)
    text = ("lines " if one else "") + ", ".join(shown)
    if one:
        text = f"{printable(sources[0])} {text}"
    return text + (f" and {more:,} more" if more else "")


def summarize_classes(rule: Rule, state: ClassState, sizes: np.ndarray) -> dict[str, Any]:
    """The k distribution (classes and devices per k, exact below ``k``, in doubling
    buckets from it) and how many devices have a record in a class below ``k``."""
    k = _k_of(rule)
    devices = np.unique(state.pair_device)
    below = np.unique(state.pair_device[sizes[state.pair_class] < k])
    used = sizes[sizes > 0]
    bins: list[dict[str, Any]] = []
    low = 1
    while used.size and low <= int(used.max()):
        high = low if low < k else 2 * low - 1
        chosen = (used >= low) & (used <= high)
        bins.append({"k_min": low, "k_max": high, "classes": int(chosen.sum()),
                     "devices_in_classes": int(used[chosen].sum()), "below_k": high < k})
        low = high + 1
    return {
        "rule": rule.id,
        "analysis": "k-anonymity",
        "k": k,
        "quasi_identifiers": list(rule.params["quasi_identifiers"]),
        "classes": int(used.size),
        "classes_below_k": int((used < k).sum()),
        "devices": int(devices.size),
        "devices_below_k": int(below.size),
        "share_below_k": round(below.size / devices.size, 6) if devices.size else 0.0,
        "histogram": bins,
        "assessed": True,
    }


def compact_classes(parts: list[ClassState]) -> list[ClassState]:
    """Fold the states gathered so far into one (bounded: lines only of small classes)."""
    return [merge_classes(parts)]


def scope(rule: Rule, category: Category) -> Scope:
    """The device field: without it nothing can be counted."""
    return Scope(fields=(rule.params["device_field"],))


check_kind("k-anonymity", params_schema=PARAMS, finish=finish_classes,
           compact=compact_classes, scope=scope)(collect_classes)
