"""YAML/JSON documents with line marks, so that every error names file:line and pointer.

Rule files and field mappings are written by people: a mistake must come back as
``rules/usage.yaml:42 at /rules/3/kind: ...``. :func:`load` parses the text and
maps every JSON pointer to its 1-based line; :func:`check` validates against a
JSON Schema (``best_match``) and raises with that line.

They may also come from anywhere (a pull request, a CI variable), so what a document
may cost is bounded before anything is built from it (`audit.limits`): its bytes
(:func:`read_bytes`), its nodes as composed, and its nodes once aliases are expanded
(a "billion laughs" of nine aliases to nine aliases is a few hundred bytes and a
billion nodes), its depth and the length of its numbers.
"""

from __future__ import annotations

import json
import os
import reprlib
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import yaml

from audit.errors import AuditError
from audit.limits import DEFAULT_LIMITS, Limits, size_text

#: Nesting that no rule file or mapping needs, and that keeps every recursive walk of
#: the data (validation, comparisons, repr) far from Python's recursion limit.
MAX_DEPTH = 100
#: Python's own bound on the digits of an integer it parses; YAML 1.1 sexagesimal numbers
#: (``1:11:11``) are built in quadratic time, so the same bound applies to every number.
MAX_NUMBER_CHARS = 4300
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


def read_bytes(path: str, error: type[AuditError], what: str,
               max_bytes: int | None = None) -> bytes:
    """A file's bytes; unreadable, or larger than ``max_bytes`` (checked before it is
    read whole, and again while reading: it may grow or be no regular file), is
    ``error`` naming the file."""
    try:
        with open(path, "rb") as handle:
            if max_bytes is None:
                return handle.read()
            size = os.fstat(handle.fileno()).st_size
            raw = b"" if size > max_bytes else handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror or exc}", path=path) from None
    if size > max_bytes or len(raw) > max_bytes:
        shown = f"{size:,} bytes" if size > max_bytes else f"more than {max_bytes:,} bytes"
        limit = size_text(max_bytes)
        limit += " bytes" if limit[-1].isdigit() else ""
        raise error(f"{what} is too large: {shown}, over the limit of {limit} "
                    "(--limit config-bytes)", path=path)
    return raw


def read_text(path: str, error: type[AuditError], what: str,
              max_bytes: int | None = None) -> str:
    """A UTF-8 file's text; an unreadable (or too large) file is ``error`` naming it."""
    raw = read_bytes(path, error, what, max_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(f"{what} is not UTF-8 text ({exc.reason})", path=path, line=line) from None


class _Mark:
    """The line of one node of a document, and the marks of its children."""

    __slots__ = ("children", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.children: dict[str, _Mark] | list[_Mark] | None = None


class Lines(Mapping[str, int]):
    """JSON pointer → 1-based line: of the key for a mapping's member, of the item for a
    sequence's. A tree of marks, one per node, walked by pointer: the pointer strings of
    every node of a deep document would cost its depth times its size."""

    __slots__ = ("_root",)

    def __init__(self, root: _Mark | None = None) -> None:
        self._root = root

    def _walk(self, at: str) -> Iterator[_Mark]:
        """The marks along pointer ``at``, from the root, as far as they exist."""
        mark = self._root
        if mark is None:
            return
        yield mark
        if not at:
            return
        if not at.startswith("/"):
            return
        for token in at[1:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            children = mark.children
            if isinstance(children, dict):
                found = children.get(token)
            elif (children is not None and token.isascii() and token.isdigit()
                  and (token == "0" or not token.startswith("0")) and int(token) < len(children)):
                found = children[int(token)]
            else:
                found = None
            if found is None:
                return
            mark = found
            yield mark

    def __getitem__(self, at: str) -> int:
        marks = list(self._walk(at))
        if not marks or len(marks) != (at.count("/") + 1 if at.startswith("/") else 1) or \
                (at and not at.startswith("/")):
            raise KeyError(at)
        return marks[-1].line

    def nearest(self, at: str) -> int | None:
        """The line of ``at``, or of its nearest ancestor that has one."""
        last = None
        for last in self._walk(at):  # noqa: B007 - the last one is the answer
            pass
        return last.line if last is not None else None

    def __iter__(self) -> Iterator[str]:
        if self._root is None:
            return
        stack: list[tuple[str, _Mark]] = [("", self._root)]
        while stack:
            at, mark = stack.pop()
            yield at
            children = mark.children
            items = children.items() if isinstance(children, dict) else enumerate(children or ())
            stack.extend((f"{at}/{escape(str(k))}", child) for k, child in items)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Stop(Exception):
    """Composing went past a bound; ``load`` turns it into the caller's error."""

    def __init__(self, what: str, line: int) -> None:
        super().__init__(what)
        self.what, self.line = what, line


class _Loader(yaml.SafeLoader):
    """The safe loader, counting nodes and depth as it composes them (so that a huge
    document stops at the bound, not at the end of the file) and noting where each alias
    is written: the composed tree only holds the node it refers to."""

    def __init__(self, text: str, max_nodes: int) -> None:
        super().__init__(text)
        self.max_nodes = max_nodes
        self.composed = 0
        self.depth = 0
        #: where an alias is written: `_slot` -> (line, anchor name)
        self.aliases: dict[tuple[int, int, bool], tuple[int, str]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        self.composed += 1  # an alias too: it is at least one node once expanded
        if self.composed > self.max_nodes:
            raise _Stop(f"more than {self.max_nodes:,} YAML nodes (--limit yaml-nodes)", line)
        if isinstance(event, yaml.AliasEvent):
            if parent is not None:  # parent.value: the items or pairs so far
                self.aliases[_slot(parent, len(parent.value), index is None)] = \
                    (line, str(event.anchor))
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Stop(f"nested too deeply (more than {MAX_DEPTH} levels)", line)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _slot(parent: yaml.Node, position: int, key: bool) -> tuple[int, int, bool]:
    """Where a child sits: the item at ``position`` of a sequence, or the key or value of
    the pair at ``position`` of a mapping."""
    return id(parent), position, key


def load(text: str, path: str, error: type[AuditError], *, json_only: bool = False,
         limits: Limits = DEFAULT_LIMITS) -> tuple[Any, Lines]:
    """Parse YAML (or strict JSON); return the data and a JSON pointer → line map.

    The document is refused past ``limits.yaml_nodes`` nodes, composed or expanded
    through its aliases, before any data is built from it."""
    if json_only:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
        except (RecursionError, ValueError):
            pass  # nested too deeply, or an integer too long: the YAML pass names the line
    loader = None
    try:  # parsed once: the node tree gives the lines, and the data is built from it
        loader = _Loader(text, limits.yaml_nodes)  # checks the characters first
        node = loader.get_single_node()
        root = None
        if node is not None:
            # Marked first: building the data expands merge keys (<<) in the tree itself.
            root = _Marker(loader, limits.yaml_nodes, path, error).mark_document(node)
        data = loader.construct_document(node) if node is not None else None
    except _Stop as stop:
        raise error(stop.what, path=path, line=stop.line) from None
    except yaml.reader.ReaderError as exc:  # its text spans two lines, and has no mark
        raise error(f"invalid YAML: {exc.reason} (#x{exc.character:04x})", path=path,
                    line=text.count("\n", 0, exc.position) + 1) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"invalid YAML: {problem}", path=path,
                    line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise error("nested too deeply", path=path) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, Lines(root)


class _Marker:
    """One walk of the composed tree with aliases expanded, as building the data would:
    line marks, duplicate keys, and the bounds. Every visit of a node counts (an alias
    is the same node reached again), so the walk stops within ``max_nodes`` steps
    whatever the aliases would expand to."""

    def __init__(self, loader: _Loader, max_nodes: int, path: str,
                 error: type[AuditError]) -> None:
        self.aliases = loader.aliases
        self.max_nodes = max_nodes
        self.path = path
        self.error = error
        self.count = 0
        self.tokens: list[str] = []  # the pointer of the node being marked, token by token
        self.open: set[int] = set()  # the containers being marked: an alias to one loops
        self.alias: tuple[int, str, int] | None = None  # outermost alias being expanded

    def pointer(self, depth: int | None = None) -> str:
        return "".join(f"/{t}" for t in self.tokens[:depth]) or "/"

    def fail(self, what: str, line: int, depth: int | None = None) -> AuditError:
        return self.error(what, path=self.path, line=line, pointer=self.pointer(depth))

    def mark_document(self, node: yaml.Node) -> _Mark:
        root = _Mark(node.start_mark.line + 1)
        self.mark(node, root)
        return root

    def child(self, parent: yaml.Node, position: int, node: yaml.Node, mark: _Mark) -> None:
        """Mark ``node``, the item or value at ``position`` of ``parent``, noting an alias."""
        alias = self.aliases.get(_slot(parent, position, False))
        if alias is None:
            self.mark(node, mark)
            return
        line, name = alias
        if id(node) in self.open:
            raise self.fail(f"alias *{name} refers to a node that contains it", line)
        if self.alias is not None:  # the outermost alias names where the expansion is
            self.mark(node, mark)
            return
        self.alias = (line, name, len(self.tokens))
        try:
            self.mark(node, mark)
        finally:
            self.alias = None

    def mark(self, node: yaml.Node, mark: _Mark) -> None:
        self.count += 1
        if self.count > self.max_nodes:
            if self.alias is not None:
                line, name, depth = self.alias
                raise self.fail(f"alias *{name} expands to more than {self.max_nodes:,} "
                                "nodes (--limit yaml-nodes): a YAML alias bomb?", line, depth)
            raise self.fail(f"more than {self.max_nodes:,} YAML nodes (--limit yaml-nodes)",
                            node.start_mark.line + 1)
        if len(self.tokens) >= MAX_DEPTH:
            raise self.fail(f"nested too deeply (more than {MAX_DEPTH} levels)",
                            node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
                raise self.fail(f"a number of more than {MAX_NUMBER_CHARS:,} characters",
                                node.start_mark.line + 1)
            return
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children: dict[str, _Mark] = {}
            mark.children = children
            for position, (key_node, value_node) in enumerate(node.value):
                alias = self.aliases.get(_slot(node, position, True))
                line = alias[0] if alias else key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(f"invalid YAML: a key must be a scalar, not {key_node.id}",
                                    line)
                self.count += 1
                key = str(key_node.value)
                if key in children:  # YAML would silently keep the last one
                    raise self.fail(f"duplicate key {key!r}", line)
                child = children[key] = _Mark(line)
                self.tokens.append(escape(key))
                self.child(node, position, value_node, child)
                self.tokens.pop()
        elif isinstance(node, yaml.SequenceNode):
            items: list[_Mark] = []
            mark.children = items
            for i, item in enumerate(node.value):
                child = _Mark(item.start_mark.line + 1)
                items.append(child)
                self.tokens.append(str(i))
                self.child(node, i, item, child)
                self.tokens.pop()
        self.open.discard(id(node))


def escape(key: str) -> str:
    """One JSON pointer token."""
    return key.replace("~", "~0").replace("/", "~1")


def pointer(parts: Any) -> str:
    """A JSON pointer from path parts."""
    return "".join(f"/{escape(str(p))}" for p in parts)


def line_of(lines: Mapping[str, int], at: str) -> int | None:
    """The line of pointer ``at``, or of its nearest ancestor that has one."""
    if isinstance(lines, Lines):
        return lines.nearest(at)
    while True:
        if at in lines:
            return lines[at]
        if not at:
            return None
        at = at.rsplit("/", 1)[0]


def _canonical(value: Any) -> Any:
    """A hashable stand-in equal where JSON Schema calls two instances equal (1 and 1.0
    are, true and 1 are not)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str) or value is None:
        return ("scalar", value)
    if isinstance(value, Mapping):
        return ("object", frozenset((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(_canonical(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("other", id(value))
    return ("other", value)


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any
                  ) -> Iterator[jsonschema.ValidationError]:
    """``uniqueItems`` in linear time: jsonschema compares every pair of items it cannot
    sort (mappings, or numbers and text mixed), minutes for a list of 40,000."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    for item in instance:
        key = _canonical(item)
        if key in seen:
            yield jsonschema.ValidationError(f"{_short(instance)} has non-unique elements")
            return
        seen.add(key)


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                          {"uniqueItems": _unique_items})


def _short(instance: Any) -> str:
    """A repr of an instance short enough for one line of an error."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = 60
    return shortener.repr(instance)


def check(schema: Mapping[str, Any], doc: Any, lines: Mapping[str, int], path: str,
          error: type[AuditError], *, at: str = "", prefix: str = "") -> None:
    """Validate ``doc`` (found at pointer ``at`` of the file); raise the best error."""
    try:
        best = jsonschema.exceptions.best_match(_Validator(schema).iter_errors(doc))
    except RecursionError:
        raise error("nested too deeply", path=path, line=line_of(lines, at)) from None
    if best is None:
        return
    parts = list(best.absolute_path)
    message = best.message
    if len(message) > 200:  # the whole instance, quoted in the message
        message = message.replace(repr(best.instance), _short(best.instance))
    if best.validator == "additionalProperties" and isinstance(best.instance, dict):
        allowed = set(best.schema.get("properties", {}))
        extra = sorted(k for k in best.instance if k not in allowed)
        if extra:
            parts.append(extra[0])
            message = f"unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
    where = at + pointer(parts)
    raise error(prefix + message, path=path, line=line_of(lines, where), pointer=where or "/")
