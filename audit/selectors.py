"""Row selection by the ``when``/``unless`` selectors of rule files."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from audit.context import shared
from audit.lazy import lazy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy("numpy")
    pd = lazy("pandas")


def select_rows(events: pd.DataFrame, selector: Mapping[str, tuple[Any, ...]]) -> pd.Series:
    """True where every field of the selector takes one of its values.

    A field the frame lacks matches no row, so a rule about ``client`` never
    fires on events that carry no client.
    """
    mask = pd.Series(True, index=events.index)
    for field, allowed in selector.items():
        if field not in events.columns:
            return pd.Series(False, index=events.index)
        column = events[field]
        matched = column.isin(list(allowed))
        if not all(isinstance(x, str) for x in allowed) and column.dtype == object:
            # True == 1 in Python: a boolean selector must not match the number 1. One C
            # pass settles the usual column (all booleans); only a mixed one is typed per row.
            types = {type(x) for x in allowed}
            inferred = pd.api.types.infer_dtype(column, skipna=True)
            if not (types == {bool} and inferred == "boolean"):
                matched &= column.map(type).isin(types)
        mask &= matched
    return mask


def applicable(
    events: pd.DataFrame,
    when: Mapping[str, tuple[Any, ...]] | None,
    unless: Mapping[str, tuple[Any, ...]] | None,
) -> pd.Series:
    """Rows a rule applies to: all of ``when`` match and not all of ``unless`` match."""
    mask = select_rows(events, when) if when else pd.Series(True, index=events.index)
    if unless:
        mask &= ~select_rows(events, unless)
    return mask


def selection(
    events: pd.DataFrame,
    when: Mapping[str, tuple[Any, ...]] | None,
    unless: Mapping[str, tuple[Any, ...]] | None,
) -> np.ndarray:
    """:func:`applicable` as a boolean array, worked out once per chunk for equal
    selectors (a rule's and a consent gate's often are)."""

    def compute() -> np.ndarray:
        return applicable(events, when, unless).to_numpy(dtype=bool)

    key = _pair_key(when, unless)
    return compute() if key is None else shared(events, ("selection", key), compute)


def selected(
    events: pd.DataFrame,
    when: Mapping[str, tuple[Any, ...]] | None,
    unless: Mapping[str, tuple[Any, ...]] | None,
) -> pd.DataFrame:
    """The rows a rule applies to: ``events`` itself when every row does.

    Within a chunk, rules with equal selectors get the same frame, so what the chunk
    cache derives from it (distinct values, parsed times) is computed once for all.
    """
    chosen = selection(events, when, unless)
    if chosen.all():
        return events
    key = _pair_key(when, unless)
    return events[chosen] if key is None else shared(events, ("rows", key),
                                                     lambda: events[chosen])


def _selector_key(selector: Mapping[str, tuple[Any, ...]] | None) -> Hashable:
    """A selector as a hashable value; values keep their type, as ``True`` is not ``1``."""
    if not selector:
        return None
    return tuple(sorted((name, tuple((type(v), v) for v in allowed))
                        for name, allowed in selector.items()))


def _pair_key(when: Mapping[str, tuple[Any, ...]] | None,
              unless: Mapping[str, tuple[Any, ...]] | None) -> Hashable | None:
    """Both selectors as one cache key; None when a value is not hashable (not shared)."""
    key = (_selector_key(when), _selector_key(unless))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def describe(when: Mapping[str, tuple[Any, ...]] | None,
             unless: Mapping[str, tuple[Any, ...]] | None) -> str:
    """Selectors in words, for reasons shown to people:
    ``client meetings_app or join_launcher, unless platform windows and crash true``."""

    def words(selector: Mapping[str, tuple[Any, ...]]) -> str:
        return " and ".join(
            f"{name} " + " or ".join(str(v).lower() if isinstance(v, bool) else str(v)
                                     for v in values)
            for name, values in selector.items())

    parts = [words(when)] if when else []
    if unless:
        parts.append(f"unless {words(unless)}")
    return ", ".join(parts)
