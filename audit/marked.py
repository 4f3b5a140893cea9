"""YAML/JSON documents with line marks, so that every error names file:line and pointer.

Rule files and field mappings are written by people: a mistake must come back as
``rules/usage.yaml:42 at /rules/3/kind: ...``. :func:`load` parses the text and
maps every JSON pointer to its 1-based line; :func:`check` validates against a
JSON Schema (``best_match``) and raises with that line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from audit.errors import AuditError

Lines = dict[str, int]


def read_text(path: str, error: type[AuditError], what: str) -> str:
    """A UTF-8 file's text; an unreadable file is ``error`` naming the file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{what} is not UTF-8 text ({exc.reason})", path=path, line=line) from None


def load(text: str, path: str, error: type[AuditError], *, json_only: bool = False
         ) -> tuple[Any, Lines]:
    """Parse YAML (or strict JSON); return the data and a JSON pointer → line map."""
    if json_only:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    loader = yaml.SafeLoader(text)
    try:  # parsed once: the node tree gives the lines, and the data is built from it
        node = loader.get_single_node()
        lines: Lines = {}
        if node is not None:
            # Marked first: building the data expands merge keys (<<) in the tree itself.
            _mark(node, "", lines, path, error)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"invalid YAML: {problem}", path=path,
                    line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise error("nested too deeply", path=path) from None
    finally:
        loader.dispose()
    return data, lines


def _mark(node: yaml.Node, at: str, lines: Lines, path: str, error: type[AuditError]) -> None:
    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:  # YAML would silently keep the last one
                raise error(f"duplicate key {key!r}", path=path,
                            line=key_node.start_mark.line + 1, pointer=at or "/")
            seen.add(key)
            child = f"{at}/{escape(key)}"
            lines[child] = key_node.start_mark.line + 1
            _mark(value_node, child, lines, path, error)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _mark(item, f"{at}/{i}", lines, path, error)


def escape(key: str) -> str:
    """One JSON pointer token."""
    return key.replace("~", "~0").replace("/", "~1")


def pointer(parts: Any) -> str:
    """A JSON pointer from path parts."""
    return "".join(f"/{escape(str(p))}" for p in parts)


def line_of(lines: Mapping[str, int], at: str) -> int | None:
    """The line of pointer ``at``, or of its nearest ancestor that has one."""
    while True:
        if at in lines:
            return lines[at]
        if not at:
            return None
        at = at.rsplit("/", 1)[0]


def check(schema: Mapping[str, Any], doc: Any, lines: Mapping[str, int], path: str,
          error: type[AuditError], *, at: str = "", prefix: str = "") -> None:
    """Validate ``doc`` (found at pointer ``at`` of the file); raise the best error."""
    best = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if best is None:
        return
    parts = list(best.absolute_path)
    message = best.message
    if best.validator == "additionalProperties" and isinstance(best.instance, dict):
        allowed = set(best.schema.get("properties", {}))
        extra = sorted(k for k in best.instance if k not in allowed)
        if extra:
            parts.append(extra[0])
            message = f"unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
    where = at + pointer(parts)
    raise error(prefix + message, path=path, line=line_of(lines, where), pointer=where or "/")
