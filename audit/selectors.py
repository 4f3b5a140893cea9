"""Row selection by the ``when``/``unless`` selectors of rule files."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from audit.context import shared
from audit.lazy import lazy

if TYPE_CHECKING:
    import pandas as pd
else:
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


def selected(
    events: pd.DataFrame,
    when: Mapping[str, tuple[Any, ...]] | None,
    unless: Mapping[str, tuple[Any, ...]] | None,
) -> pd.DataFrame:
    """The rows a rule applies to: ``events`` itself when every row does.

    Within a chunk, rules with equal selectors get the same frame, so what the chunk
    cache derives from it (distinct values, parsed times) is computed once for all.
    """

    def pick() -> pd.DataFrame:
        mask = applicable(events, when, unless)
        return events if mask.all() else events[mask]

    key = (selector_key(when), selector_key(unless))
    try:
        hash(key)
    except TypeError:  # a selector value that is not hashable: not shared
        return pick()
    return shared(events, ("rows", key), pick)


def selector_key(selector: Mapping[str, tuple[Any, ...]] | None) -> Hashable:
    """A selector as a hashable value; values keep their type, as ``True`` is not ``1``."""
    if not selector:
        return None
    return tuple(sorted((name, tuple((type(v), v) for v in allowed))
                        for name, allowed in selector.items()))
