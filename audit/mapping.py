"""Declarative field mapping: audit other event formats without code changes.

A mapping file (YAML or JSON) says where each reference field comes from in another
format, for example the nested Common Schema envelope of 1DS events::

    description: 1DS Common Schema 4.0 events
    route:                       # the category from a field's value
      field: name
      categories:                # first pattern (RE2, case-insensitive) that matches
        census: census
        error: error|exception|crash|fault
      default: usage
    fields:                      # reference name: a dotted source path, or an entry
      time: time
      UserID: {from: ext.user.localId, transform: [{cs-id: user}]}
      DeviceModel: {from: [ext.device.model, ext.protocol.devModel]}  # first present
      Build: {from: [ext.app.ver, ext.os.ver], join: " / "}           # joined
      client: {constant: desktop}
    lift: [data.]                # part C properties audited under their own names
    constants: {platform: windows}
    ignore: [ver, iKey, "ext.sdk.*"]   # envelope bookkeeping, not audited (see the report)

Transforms (applied in order, to text values; others pass unchanged): ``lower``,
``upper``, ``{cs-id: device|user}`` (strip a Common Schema id prefix such as ``s:``
and keep what it says the id is, for the identifier checks), ``{regex: PATTERN}`` (the
first named group, else the whole match; no match leaves no value), ``{split: {sep,
index}}``, ``{decode: hex|base64|url}`` (a value that does not decode is kept as is),
``{prefix: TEXT}`` (remove a literal prefix where present).

Source fields that the mapping neither names, lifts nor ignores are kept under their
own names, so anything unexpected is still reported as an undeclared field; a lifted
name that would replace a field already there keeps its dotted name, for the same
reason. Every step is per row: a record's result does not depend on which fields the
other records of its batch carry. Patterns are RE2 (no backtracking: a crafted value
cannot make them slow). Shipped mappings are chosen by name (``--mapping
common-schema``); ``extends: NAME`` starts from one and overrides its keys.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit import marked
from audit.detectors.prefixed_ids import ID_PREFIX
from audit.errors import UsageError
from audit.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    import pandas as pd

_SOURCES = {
    "type": ["string", "array"],
    "minLength": 1,
    "minItems": 1,
    "items": {"type": "string", "minLength": 1},
}
_TRANSFORM = {
    "if": {"type": "string"},
    "then": {"enum": ["lower", "upper"]},
    "else": {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {
            "cs-id": {"enum": ["device", "user"]},
            "regex": {"type": "string", "minLength": 1},
            "split": {
                "type": "object",
                "additionalProperties": False,
                "required": ["sep", "index"],
                "properties": {"sep": {"type": "string", "minLength": 1},
                               "index": {"type": "integer"}},
            },
            "decode": {"enum": ["hex", "base64", "url"]},
            "prefix": {"type": "string", "minLength": 1},
        },
    },
}
_SCALAR = {"type": ["string", "number", "boolean"]}

SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "extends": {"type": "string", "minLength": 1},
        "route": {
            "type": "object",
            "additionalProperties": False,
            "required": ["field", "categories"],
            "properties": {
                "field": {"type": "string", "minLength": 1},
                "categories": {"type": "object",
                               "additionalProperties": {"type": "string", "minLength": 1}},
                "default": {"type": "string", "minLength": 1},
            },
        },
        "fields": {
            "type": "object",
            "additionalProperties": {
                "type": ["string", "object"],
                "minLength": 1,
                "additionalProperties": False,
                "properties": {
                    "from": _SOURCES,
                    "join": {"type": "string"},
                    "transform": {"type": "array", "items": _TRANSFORM},
                    "constant": _SCALAR,
                    "note": {"type": "string"},
                },
            },
        },
        "lift": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "constants": {"type": "object", "additionalProperties": _SCALAR},
        "ignore": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}

#: The mappings shipped in the package, by name (``--mapping common-schema``).
SHIPPED = "audit.mappings"


class MappingError(UsageError):
    """A mapping file that cannot be used."""


# -- transforms ------------------------------------------------------------------------

_CS_ID = re.compile(r"([a-z]):(.+)", re.DOTALL)


def _text_only(func: Callable[[str], Any]) -> Callable[[Any], Any]:
    return lambda value: func(value) if isinstance(value, str) else value


def _decoder(how: str) -> Callable[[str], str]:
    def decode(value: str) -> str:
        try:
            if how == "hex":
                raw = bytes.fromhex(value)
            elif how == "base64":
                raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
            else:
                return urllib.parse.unquote(value, errors="strict")
            return raw.decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return value  # not encoded after all: audited as it came
    return decode


def _split(sep: str, index: int) -> Callable[[str], Any]:
    def pick(value: str) -> Any:
        parts = value.split(sep)
        return parts[index] if -len(parts) <= index < len(parts) else None
    return pick


@dataclass(frozen=True, slots=True)
class Transform:
    """One step of an entry; ``regex`` runs on all the values at once (RE2)."""

    name: str
    arg: Any = None

    def run(self, values: list[Any]) -> list[Any]:
        if self.name == "regex":
            return _extract(values, self.arg)
        step = {
            "lower": _text_only(str.lower),
            "upper": _text_only(str.upper),
            "cs-id": _text_only(lambda v: m.group(2) if (m := _CS_ID.fullmatch(v)) else v),
            "decode": _text_only(_decoder(self.arg)) if self.name == "decode" else None,
            "split": (_text_only(_split(self.arg["sep"], int(self.arg["index"])))
                      if self.name == "split" else None),
            "prefix": (_text_only(lambda v: v.removeprefix(self.arg))
                       if self.name == "prefix" else None),
        }[self.name]
        assert step is not None
        return [step(v) for v in values]


def _pattern(pattern: str) -> str:
    """The pattern with a group to extract: its first named group, else the whole match."""
    return pattern if "(?P<" in pattern else f"(?P<value>{pattern})"


def _extract(values: list[Any], pattern: str) -> list[Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = [v if isinstance(v, str) else None for v in values]
    found = pc.extract_regex(pa.array(texts, type=pa.large_string()), _pattern(pattern))
    first = found.field(0).to_pylist() if len(found) else []
    valid = found.is_valid().to_pylist() if len(found) else []
    return [f if ok else (None if isinstance(v, str) else v)
            for v, f, ok in zip(values, first, valid, strict=True)]


def matches(values: list[str], pattern: str) -> list[bool]:
    """Whether each value contains a match of an RE2 pattern (case-insensitive)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not values:
        return []
    found = pc.match_substring_regex(pa.array(values, type=pa.large_string()), pattern,
                                     ignore_case=True)
    return pc.fill_null(found, False).to_pylist()


# -- the mapping -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FieldRule:
    """Where one reference field comes from."""

    target: str
    sources: tuple[str, ...] = ()
    join: str | None = None  # None: the first source present
    transforms: tuple[Transform, ...] = ()
    constant: Any = None

    @property
    def id_table(self) -> str | None:
        """``device`` or ``user`` when a step strips a Common Schema id prefix."""
        return next((t.arg for t in self.transforms if t.name == "cs-id"), None)


@dataclass(frozen=True, slots=True)
class Route:
    """The category from a field's value: the first pattern that matches, else default."""

    field: str
    categories: tuple[tuple[str, str], ...]  # (category, pattern)
    default: str | None = None

    def categories_of(self, values: list[str]) -> list[str | None]:
        out: list[str | None] = [None] * len(values)
        for category, pattern in self.categories:
            hit = matches(values, pattern)
            out = [o if o is not None or not h else category
                   for o, h in zip(out, hit, strict=True)]
        return [o if o is not None else self.default for o in out]


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Fields, route, lifted prefixes, constants and ignored fields, applied to each
    chunk's rows."""

    fields: tuple[FieldRule, ...]
    constants: Mapping[str, Any]
    ignore: tuple[str, ...]
    path: str
    route: Route | None = None
    lift: tuple[str, ...] = ()
    name: str | None = None
    description: str = ""
    _ignored: dict[tuple[str, ...], list[str]] = field(default_factory=dict, compare=False,
                                                       repr=False)

    @property
    def renames(self) -> Mapping[str, str]:
        """Source field → reference field, for the entries that take one source."""
        return {rule.sources[0]: rule.target for rule in self.fields if rule.sources}

    def sources_of(self, target: str) -> list[str]:
        """The source fields an entry takes ``target`` from."""
        return [s for rule in self.fields if rule.target == target for s in rule.sources]

    def ignored(self, columns: Sequence[str]) -> list[str]:
        """The columns that the ``ignore`` list names (exactly or by a glob)."""
        key = tuple(columns)
        found = self._ignored.get(key)
        if found is None:
            exact = set(self.ignore)
            globs = [g for g in self.ignore if any(c in g for c in "*?[")]
            found = [c for c in columns
                     if c in exact or any(fnmatch.fnmatchcase(c, g) for g in globs)]
            if len(self._ignored) < 1024:
                self._ignored[key] = found
        return found

    def name_of(self, name: str, columns: Sequence[str]) -> str | None:
        """The name a source field's other value (of a key the record repeats) is audited
        under in a frame of ``columns``, as :meth:`apply` names the value it keeps; None
        when the value is not audited: the field is ignored, or replaced (a reference
        field whose mapped source the frame has, a later source of an entry whose earlier
        one it has). An entry that transforms or joins its value keeps the source's name,
        so the other value is audited as it came rather than not at all."""
        if self.ignored([name]):
            return None
        for rule in self.fields:
            if rule.target == name and any(s in columns for s in rule.sources):
                return None
            if name in rule.sources:
                if rule.transforms or rule.join is not None:
                    return name
                earlier = rule.sources[:rule.sources.index(name)]
                return None if any(s in columns for s in earlier) else rule.target
        prefix = next((p for p in self.lift if name.startswith(p) and len(name) > len(p)),
                      None)
        if prefix is not None and name[len(prefix):] not in columns:
            return name[len(prefix):]
        return name

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with reference names: each entry's value where its sources give one
        (a reference field already there is kept where they do not)."""
        out: dict[str, pd.Series] = {}
        if self.route is not None and self.route.field in frame.columns:
            out["category"] = _routed(frame[self.route.field], self.route)
        used: set[str] = set()
        for rule in self.fields:
            value, kinds = _value_of(frame, rule)
            used.update(s for s in rule.sources if s in frame.columns)
            if value is not None:
                out[rule.target] = value
                if kinds is not None:
                    out[ID_PREFIX + rule.target] = kinds
        drop = [c for c in {*self.ignored(frame.columns.tolist()), *used}
                if c not in out and c in frame.columns]
        frame = frame.drop(columns=drop) if drop else frame
        for name, value in out.items():
            if name in frame.columns:
                value = value.where(value.notna(), frame[name])
            frame[name] = value
        frame = self._lifted(frame)
        for name, constant in self.constants.items():
            if name not in frame.columns:
                frame[name] = constant
            else:
                frame[name] = frame[name].where(frame[name].notna(), constant)
        return frame

    def _lifted(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``data.IMSent`` audited as ``IMSent``; in a record that has an ``IMSent`` of its
        own (or mapped), the lifted value keeps its dotted name and is audited as such."""
        if not self.lift:
            return frame
        renames: dict[str, str] = {}
        merges: list[tuple[str, str]] = []
        for column in frame.columns:
            prefix = next((p for p in self.lift
                           if column.startswith(p) and len(column) > len(p)), None)
            if prefix is None:
                continue
            short = column[len(prefix):]
            if short in frame.columns or short in renames.values():
                merges.append((column, short))
            else:
                renames[column] = short
        if renames:
            frame = frame.rename(columns=renames)
        for column, short in merges:
            there = frame[short].notna()
            differs = there & (frame[column].astype(object) != frame[short].astype(object))
            frame[short] = frame[short].where(there, frame[column])
            frame[column] = frame[column].where(differs)
        return frame


def _routed(values: pd.Series, route: Route) -> pd.Series:
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(values)
    names = [u if isinstance(u, str) else str(u) for u in uniques]
    found = np.asarray([*route.categories_of(names), None], dtype=object)
    return pd.Series(found[codes], index=values.index, dtype=object)


def _value_of(frame: pd.DataFrame, rule: FieldRule) -> tuple[pd.Series | None,
                                                             pd.Series | None]:
    """An entry's values (None when its sources are absent) and, for a ``cs-id`` entry,
    the prefix each id had (``device:s``)."""
    import numpy as np
    import pandas as pd

    if not rule.sources:
        return pd.Series(rule.constant, index=frame.index, dtype=object), None
    present = [frame[s] for s in rule.sources if s in frame.columns]
    if not present:
        return None, None
    if rule.join is not None and len(present) > 1:
        rows = zip(*(c.to_numpy(dtype=object) for c in present), strict=True)
        joined = [rule.join.join(map(_as_text, (v for v in row if not _missing(v)))) or None
                  for row in rows]
        value = pd.Series(joined, index=frame.index, dtype=object)
    else:
        value = present[0]
        for more in present[1:]:
            value = value.where(value.notna(), more)
    if not rule.transforms:
        return value, None
    codes, uniques = pd.factorize(value)
    items = list(uniques)
    kinds = None
    table = rule.id_table
    for step in rule.transforms:
        if step.name == "cs-id":
            tags = [f"{table}:{m.group(1)}" if isinstance(v, str)
                    and (m := _CS_ID.fullmatch(v)) else None for v in items]
            kinds = tags if kinds is None else kinds
        items = step.run(items)
    done = np.asarray([*items, None], dtype=object)[codes]
    result = pd.Series(done, index=frame.index, dtype=object)
    if kinds is None:
        return result, None
    return result, pd.Series(np.asarray([*kinds, None], dtype=object)[codes],
                             index=frame.index, dtype=object)


def _as_text(value: Any) -> str:
    """A joined part as text: a list or object as JSON, as the record has it."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "tolist"):  # an array a reader gave for a JSON list
        return json.dumps(value.tolist(), ensure_ascii=False, default=str)
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


# -- loading -----------------------------------------------------------------------------

def shipped() -> dict[str, Path]:
    """The shipped mappings by name."""
    folder = resources.files(SHIPPED)
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir()
            if p.name.endswith((".yaml", ".yml"))}


def resolve(name_or_path: str) -> str:
    """A mapping file's path: the file given, else the shipped mapping of that name."""
    if Path(name_or_path).exists() or any(s in name_or_path for s in "/\\."):
        return name_or_path
    found = shipped()
    if name_or_path in found:
        return str(found[name_or_path])
    raise MappingError(f"no mapping file and no shipped mapping named {name_or_path!r} "
                       f"(shipped: {', '.join(sorted(found))})")


def load_mapping(name_or_path: str, limits: Limits = DEFAULT_LIMITS,
                 _seen: tuple[str, ...] = ()) -> FieldMapping:
    """Read and validate a mapping (a file, or a shipped one by name); errors name the file,
    line and pointer. A file past ``limits.config_bytes`` (not read whole) or
    ``limits.yaml_nodes`` is an error."""
    path = resolve(name_or_path)
    doc, lines = _document(path, limits)
    base: FieldMapping | None = None
    if "extends" in doc:
        parent = doc["extends"]
        at = {"path": path, "line": marked.line_of(lines, "/extends"), "pointer": "/extends"}
        try:
            parent_path = resolve(parent)
        except MappingError as exc:
            raise MappingError(exc.what, **at) from None
        if parent_path in (path, *_seen):
            raise MappingError(f"mapping {parent!r} extends itself", **at)
        base = load_mapping(parent_path, limits, (*_seen, path))
    return _build(doc, lines, path, base)


def _document(path: str, limits: Limits) -> tuple[dict[str, Any], Mapping[str, int]]:
    text = marked.read_text(path, MappingError, "mapping", limits.config_bytes)
    doc, lines = marked.load(text, path, MappingError, limits=limits)
    doc = doc if doc is not None else {}
    marked.check(SCHEMA, doc, lines, path, MappingError)
    return doc, lines


def _build(doc: dict[str, Any], lines: Mapping[str, int], path: str,
           base: FieldMapping | None) -> FieldMapping:
    def fail(message: str, at: str) -> MappingError:
        return MappingError(message, path=path, line=marked.line_of(lines, at), pointer=at)

    rules = {r.target: r for r in base.fields} if base else {}
    for target, entry in (doc.get("fields") or {}).items():
        rules[target] = _field_rule(target, entry, fail)
    taken: dict[str, str] = {}
    for rule in rules.values():
        if rule.join is None and len(rule.sources) == 1 and not rule.transforms:
            source = rule.sources[0]
            if source in taken:
                raise fail(f"source field {source!r} is mapped twice ({taken[source]!r} "
                           f"and {rule.target!r})", f"/fields/{marked.escape(rule.target)}")
            taken[source] = rule.target
    route = base.route if base else None
    if "route" in doc:
        spec = doc["route"]
        for category, pattern in spec["categories"].items():
            _check_pattern(pattern, fail, f"/route/categories/{marked.escape(category)}")
        route = Route(spec["field"], tuple(spec["categories"].items()), spec.get("default"))
    if route is not None and "category" in rules:
        raise fail("category is both routed (route) and mapped (fields/category)",
                   "/fields/category" if "category" in (doc.get("fields") or {}) else "/route")
    constants = {**(base.constants if base else {}), **(doc.get("constants") or {})}
    ignore = tuple(doc["ignore"]) if "ignore" in doc else (base.ignore if base else ())
    lift = tuple(doc["lift"]) if "lift" in doc else (base.lift if base else ())
    name = Path(path).stem
    return FieldMapping(tuple(rules.values()), constants, ignore, path, route, lift,
                        name, str(doc.get("description", base.description if base else "")))


def _field_rule(target: str, entry: str | dict[str, Any],
                fail: Callable[[str, str], MappingError]) -> FieldRule:
    if isinstance(entry, str):
        return FieldRule(target, (entry,))
    at = f"/fields/{marked.escape(target)}"
    if ("from" in entry) == ("constant" in entry):
        raise fail("an entry takes its value from source fields (from) or is a constant "
                   "(constant): give one of them", at)
    if "constant" in entry:
        if "transform" in entry or "join" in entry:
            raise fail("a constant takes no transform or join", at)
        return FieldRule(target, constant=entry["constant"])
    sources = entry["from"]
    sources = (sources,) if isinstance(sources, str) else tuple(sources)
    steps = []
    for k, spec in enumerate(entry.get("transform") or ()):
        name, arg = (spec, None) if isinstance(spec, str) else next(iter(spec.items()))
        if name == "regex":
            _check_pattern(arg, fail, f"{at}/transform/{k}/regex")
        steps.append(Transform(name, arg))
    return FieldRule(target, sources, entry.get("join"), tuple(steps))


def _check_pattern(pattern: str, fail: Callable[[str, str], MappingError], at: str) -> None:
    """A pattern RE2 cannot compile is the mapping's error, with its line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        pc.extract_regex(pa.array(["x"], type=pa.large_string()), _pattern(pattern))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise fail(f"invalid pattern {pattern!r}: {str(exc).splitlines()[0]}", at) from None
