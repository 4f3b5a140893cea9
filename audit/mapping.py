"""Declarative field mapping: audit other event formats without code changes.

A mapping file (YAML or JSON) renames flattened source fields to the reference
format's names and may set constant fields, for example for a nested
common-schema envelope::

    fields:                      # reference name: dotted source path
      category: data.kind
      time: time
      UserID: ext.user.localId
      DeviceID: ext.device.localId
    constants:                   # fields every event gets (when absent)
      client: desktop
    ignore: [ver, iKey]          # envelope bookkeeping, not audited (listed in the report)

Source fields that the mapping does not name are kept under their own names,
so anything unexpected is still reported as an undeclared field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit import marked
from audit.errors import UsageError
from audit.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    import pandas as pd

SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
        },
        "constants": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "ignore": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}


class MappingError(UsageError):
    """A mapping file that cannot be used."""


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Renames (source → reference name) and constants, applied to every chunk."""

    renames: Mapping[str, str]
    constants: Mapping[str, Any]
    ignore: tuple[str, ...]
    path: str

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with mapped names; a reference field already present is replaced."""
        dropped = [c for c in self.ignore if c in frame.columns]
        if dropped:
            frame = frame.drop(columns=dropped)
        present = {src: dst for src, dst in self.renames.items() if src in frame.columns}
        if present:
            frame = frame.drop(columns=[d for d in present.values()
                                        if d in frame.columns and d not in present])
            frame = frame.rename(columns=present)
        for name, value in self.constants.items():
            if name not in frame.columns:
                frame[name] = value
            else:
                frame[name] = frame[name].where(frame[name].notna(), value)
        return frame

    def name_of(self, name: str, columns: Collection[str]) -> str | None:
        """The name :meth:`apply` gives the source field ``name`` of a frame of
        ``columns``; None when it drops the field (ignored, or a reference field that a
        mapped source field replaces)."""
        if name in self.ignore:
            return None
        if name in self.renames:
            return self.renames[name]
        if any(target == name and source in columns for source, target in self.renames.items()):
            return None
        return name


def load_mapping(path: str, limits: Limits = DEFAULT_LIMITS) -> FieldMapping:
    """Read and validate a mapping file; errors name the file, line and pointer. A file
    past ``limits.config_bytes`` (not read whole) or ``limits.yaml_nodes`` is an error."""
    text = marked.read_text(path, MappingError, "mapping", limits.config_bytes)
    doc, lines = marked.load(text, path, MappingError, limits=limits)
    doc = doc if doc is not None else {}
    marked.check(SCHEMA, doc, lines, path, MappingError)
    renames: dict[str, str] = {}
    for target, source in (doc.get("fields") or {}).items():
        if source in renames:
            at = f"/fields/{marked.escape(target)}"
            raise MappingError(f"source field {source!r} is mapped twice "
                               f"({renames[source]!r} and {target!r})", path=path,
                               line=marked.line_of(lines, at), pointer=at)
        renames[source] = target
    return FieldMapping(renames, dict(doc.get("constants") or {}),
                        tuple(doc.get("ignore") or ()), path)
