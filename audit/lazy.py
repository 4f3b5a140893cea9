"""Modules imported on first use, so that ``--help`` and ``rules list`` start fast.

Check kinds register themselves when the rule pack is loaded, but only a scan
needs pandas and numpy. Modules write::

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = lazy("pandas")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Lazy:
    """Stands for a module; the first attribute read imports it."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy(name: str) -> Any:
    """A stand-in for module ``name`` that imports it on first attribute access."""
    return _Lazy(name)
