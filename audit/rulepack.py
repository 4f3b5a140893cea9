"""Load the declarative rule pack: one YAML (or JSON) file per data category.

Each file is validated against ``rule-pack.schema.json`` (jsonschema) and then
against what only code knows (check kinds and their parameter schemas,
duplicate ids, statement references). Every error names the file, the line and
the JSON pointer, using the YAML node marks, so that a broken rule file is one
clear line on the terminal, never a traceback.

This module does not import pandas: ``rules list`` must start fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from audit import marked
from audit.errors import RuleFileError
from audit.limits import DEFAULT_LIMITS, Limits
from audit.model import Severity, Stage

META_SCHEMA_NAME = "rule-pack.schema.json"
RULE_SUFFIXES = (".yaml", ".yml", ".json")
MESSAGE_FIELDS = frozenset({"field", "explanation", "detector", "rule", "category"})

Selector = Mapping[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """A declared event field; ``kind`` gives detectors their context."""

    name: str
    type: str
    kind: str
    required: bool = False
    required_when: Selector | None = None
    format: str | None = None
    enum: tuple[Any, ...] | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldHint:
    """An undeclared field's kind, told by its name: ``name`` is a glob (``*`` and ``?``)
    over the field's last path segment or its whole dotted name, ignoring case.

    Why: a random GUID says nothing on its own, but under ``ext.device.localId`` it is a
    device's id; the hint gives the field the context a declared field's kind gives.
    """

    name: str
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """A consent setting that governs whether a category's events may be sent."""

    id: str
    scope: str
    setting: str
    subject: str
    default: bool
    allowed: bool
    when: Selector | None = None
    unless: Selector | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule: a check kind applied with parameters, and what to say when it fires."""

    id: str
    category: str
    kind: str
    severity: Severity
    title: str
    message: str
    policy: str | None = None
    help: str | None = None
    fields: tuple[str, ...] = ()
    when: Selector | None = None
    unless: Selector | None = None
    stages: frozenset[Stage] = frozenset(Stage)
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    path: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    """A data category: how its records are recognised, its schema, consent and rules."""

    name: str
    title: str
    description: str
    select_field: str
    select_value: Any
    statements: Mapping[str, str]
    gates: Mapping[str, Gate]
    fields: Mapping[str, FieldSpec]
    rules: tuple[Rule, ...]
    path: str
    field_hints: tuple[FieldHint, ...] = ()

    def hinted_kind(self, field: str) -> str | None:
        """The kind of the first hint whose glob matches the field's last path segment
        or its whole dotted name (case ignored), else None."""
        return self.hint_matcher()(field)

    def hint_matcher(self) -> Callable[[str], str | None]:
        """:meth:`hinted_kind` as a function, to ask about many fields: finding the
        matcher hashes every hint, which a record of 100,000 keys would do 100,000 times."""
        return _hint_matcher(self.field_hints) if self.field_hints else _no_hint


def _no_hint(field: str) -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RulePack:
    """All categories of a rule directory, with a digest over the exact files read."""

    directory: str
    categories: Mapping[str, Category]
    rules: Mapping[str, Rule]
    digest: str
    files: tuple[tuple[str, str], ...]  # (path, sha256)

    @property
    def statements(self) -> dict[str, str]:
        return {k: v for c in self.categories.values() for k, v in c.statements.items()}

    def all_rules(self) -> tuple[Rule, ...]:
        """Every rule, the built-in ones (:data:`BUILTIN_RULES`) first."""
        return (*BUILTIN_RULES, *self.rules.values())


#: Records that cannot be parsed or routed. Built in: no category file owns it.
MALFORMED_RULE = Rule(
    id="input/malformed-record",
    category="input",
    kind="builtin",
    severity=Severity.MEDIUM,
    title="Record could not be audited",
    message="record could not be audited: {explanation}",
    help="The record is not valid JSON/CSV, not an object, not UTF-8, or has no known category.",
    path="(built in)",
)

#: Records that give a key more than once. Built in: the readers find them, and the record
#: is audited with every value (a finding names the value that violates).
DUPLICATE_KEY_RULE = Rule(
    id="input/duplicate-key",
    category="input",
    kind="builtin",
    severity=Severity.LOW,
    title="Record repeats a key",
    message="record repeats key {field}: {explanation}",
    help="The record gives a key more than once, or two values under one dotted name once "
         'flattened ("a.b" beside "a": {"b": ...}). Most JSON consumers keep only the last '
         "value; every value was audited, and a finding of another rule names the one that "
         "violates.",
    path="(built in)",
)

#: The rules no category file owns, in the order reports list them.
BUILTIN_RULES = (MALFORMED_RULE, DUPLICATE_KEY_RULE)


def glob_regex(glob: str) -> str:
    """A glob as a regular expression without groups: ``*`` any run of characters, ``?``
    one character, everything else itself."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)


@functools.lru_cache(maxsize=16)
def _hint_matcher(hints: tuple[FieldHint, ...]) -> Callable[[str], str | None]:
    """One regex for all hints, tried in order: the first alternative that matches a
    whole name wins (each alternative is one group, so ``lastindex`` names it)."""
    regex = re.compile("|".join(f"({glob_regex(h.name)})" for h in hints),
                       re.IGNORECASE | re.DOTALL)
    kinds = [h.kind for h in hints]

    def kind_of(field: str) -> str | None:
        found = [m.lastindex for m in (regex.fullmatch(field),
                                       regex.fullmatch(field.rpartition(".")[2]))
                 if m and m.lastindex]
        return kinds[min(found) - 1] if found else None

    # A scan asks about the same names chunk after chunk; a long name (a hostile record's
    # key may be megabytes) is matched again rather than kept.
    remembered = functools.lru_cache(maxsize=1 << 16)(kind_of)
    return lambda field: remembered(field) if len(field) <= 256 else kind_of(field)


def builtin_dir() -> Path:
    """The rule pack beside the package (a source tree) or shipped with it (a wheel).

    The source tree comes first: a checkout put on the path ahead of an editable install
    of another checkout uses its own rules with its own code, not the other's.
    """
    beside = Path(__file__).resolve().parent.parent / "rules"
    if (beside / META_SCHEMA_NAME).is_file():
        return beside
    try:
        from importlib.resources import files

        candidate = Path(str(files("audit.builtin_rules")))
        if (candidate / META_SCHEMA_NAME).is_file():
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    return beside


def meta_schema() -> dict[str, Any]:
    """The meta-schema every rule file is validated against (always the built-in one)."""
    loaded: dict[str, Any] = json.loads((builtin_dir() / META_SCHEMA_NAME).read_text("utf-8"))
    return loaded


def rule_files(directory: Path) -> list[Path]:
    """The rule files of a directory, in name order (schemas excluded)."""
    if not directory.is_dir():
        raise RuleFileError("rule directory does not exist", path=str(directory))
    found = sorted(
        p
        for p in directory.iterdir()
        if p.suffix in RULE_SUFFIXES and not p.name.endswith(".schema.json") and p.is_file()
    )
    if not found:
        raise RuleFileError("no rule files (*.yaml, *.yml, *.json) found", path=str(directory))
    return found


def rule_file(path: Path) -> Path:
    """``path`` if it is one rule file, as :func:`rule_files` would list it."""
    if not path.is_file():
        raise RuleFileError("not a rule file", path=str(path))
    if path.name.endswith(".schema.json"):
        raise RuleFileError("a JSON Schema, not a rule file", path=str(path))
    if path.suffix not in RULE_SUFFIXES:
        raise RuleFileError("not a rule file (*.yaml, *.yml, *.json)", path=str(path))
    return path


def load(directory: str | Path | None = None, limits: Limits = DEFAULT_LIMITS) -> RulePack:
    """Load and validate every rule file of ``directory`` (the built-in pack by default);
    a file past ``limits.config_bytes`` or ``limits.yaml_nodes`` is an error."""
    root = Path(directory) if directory is not None else builtin_dir()
    return _load(root, rule_files(root), limits)


def load_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> RulePack:
    """Load and validate one rule file, as :func:`load` does each file of a directory:
    what ``rules validate FILE`` checks while the file is being edited. The pack's
    ``directory`` is the file; checks across files (a category or rule id defined
    twice) need the whole directory."""
    return _load(Path(path), [rule_file(Path(path))], limits)


def _load(root: Path, paths: list[Path], limits: Limits) -> RulePack:
    from audit.checks import CHECK_KINDS  # the registry, not pandas

    schema = meta_schema()
    categories: dict[str, Category] = {}
    rules: dict[str, Rule] = {rule.id: rule for rule in BUILTIN_RULES}
    files: list[tuple[str, str]] = []
    digest = hashlib.sha256()
    for path in paths:
        raw = marked.read_bytes(str(path), RuleFileError, "rule file", limits.config_bytes)
        files.append((str(path), hashlib.sha256(raw).hexdigest()))
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        doc, lines = _parse(path, raw, limits)
        marked.check(schema, doc, lines, str(path), RuleFileError)
        category = _build_category(doc, lines, path, CHECK_KINDS)
        if category.name in categories:
            raise RuleFileError(
                f"category {category.name!r} is already defined in "
                f"{categories[category.name].path}",
                path=str(path),
                line=lines.get("/category"),
                pointer="/category",
            )
        for rule in category.rules:
            if rule.id in rules:
                raise RuleFileError(
                    f"duplicate rule id {rule.id!r} (first defined in "
                    f"{rules[rule.id].path}:{rules[rule.id].line})",
                    path=str(path),
                    line=rule.line,
                )
            rules[rule.id] = rule
        categories[category.name] = category
    for rule in BUILTIN_RULES:
        del rules[rule.id]
    return RulePack(
        directory=str(root),
        categories=MappingProxyType(categories),
        rules=MappingProxyType(rules),
        digest="sha256:" + digest.hexdigest(),
        files=tuple(files),
    )


# -- parsing with line marks --------------------------------------------------


def _parse(path: Path, raw: bytes, limits: Limits) -> tuple[Any, marked.Lines]:
    """Parse a rule file (YAML, or strict JSON by suffix) with its line marks."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RuleFileError(f"not UTF-8 text ({exc.reason})", path=str(path), line=line) from None
    return marked.load(text, str(path), RuleFileError, json_only=path.suffix == ".json",
                       limits=limits)


# -- building the frozen values -----------------------------------------------


def _selector(raw: Mapping[str, Any] | None) -> Selector | None:
    if not raw:
        return None
    return MappingProxyType({k: tuple(v) if isinstance(v, list) else (v,) for k, v in raw.items()})


def _build_category(
    doc: Mapping[str, Any], lines: Mapping[str, int], path: Path, kinds: Mapping[str, Any]
) -> Category:
    name = doc["category"]
    statements = MappingProxyType(
        {k: " ".join(str(v).split()) for k, v in (doc.get("statements") or {}).items()}
    )
    fields = MappingProxyType(
        {
            fname: FieldSpec(
                name=fname,
                type=spec["type"],
                kind=spec["kind"],
                required=bool(spec.get("required", False)),
                required_when=_selector(spec.get("required_when")),
                format=spec.get("format"),
                enum=tuple(spec["enum"]) if "enum" in spec else None,
                pattern=_checked_pattern(
                    spec.get("pattern"), path, lines, f"/fields/{marked.escape(fname)}"
                ),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
            )
            for fname, spec in doc["fields"].items()
        }
    )
    gates: dict[str, Gate] = {}
    for i, g in enumerate(doc.get("consent") or []):
        if g["id"] in gates:
            raise RuleFileError(
                f"duplicate consent gate id {g['id']!r}",
                path=str(path),
                line=marked.line_of(lines, f"/consent/{i}/id"),
                pointer=f"/consent/{i}/id",
            )
        gates[g["id"]] = Gate(
            id=g["id"],
            scope=g["scope"],
            setting=g["setting"],
            subject=g["subject"],
            default=g["default"],
            allowed=g["allowed"],
            when=_selector(g.get("when")),
            unless=_selector(g.get("unless")),
            description=g.get("description", ""),
        )
    rules = tuple(
        _build_rule(raw, i, name, statements, fields, gates, lines, path, kinds)
        for i, raw in enumerate(doc["rules"])
    )
    return Category(
        name=name,
        title=doc["title"],
        description=(doc.get("description") or "").strip(),
        select_field=doc["select"]["field"],
        select_value=doc["select"]["equals"],
        statements=statements,
        gates=MappingProxyType(gates),
        fields=fields,
        rules=rules,
        path=str(path),
        field_hints=tuple(FieldHint(name=h["name"], kind=h["kind"])
                          for h in doc.get("field_hints") or ()),
    )


def _checked_pattern(
    pattern: str | None, path: Path, lines: Mapping[str, int], at: str
) -> str | None:
    if pattern is None:
        return None
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise RuleFileError(
            f"invalid regular expression: {exc}",
            path=str(path),
            line=marked.line_of(lines, at + "/pattern"),
            pointer=at + "/pattern",
        ) from None
    return pattern


def _build_rule(
    raw: Mapping[str, Any],
    index: int,
    category: str,
    statements: Mapping[str, str],
    fields: Mapping[str, FieldSpec],
    gates: Mapping[str, Gate],
    lines: Mapping[str, int],
    path: Path,
    kinds: Mapping[str, Any],
) -> Rule:
    at = f"/rules/{index}"

    def fail(what: str, key: str) -> RuleFileError:
        return RuleFileError(
            what, path=str(path), line=marked.line_of(lines, f"{at}/{key}"), pointer=f"{at}/{key}"
        )

    rule_id = raw["id"]
    if rule_id.split("/", 1)[0] != category:
        raise fail(f"rule id {rule_id!r} must start with its category {category!r}/", "id")
    kind = kinds.get(raw["kind"])
    if kind is None:
        raise fail(
            f"unknown check kind {raw['kind']!r} (known: {', '.join(sorted(kinds))})", "kind"
        )
    params = raw.get("params") or {}
    marked.check(kind.params_schema, params, lines, str(path), RuleFileError,
                 at=f"{at}/params", prefix=f"invalid params for kind {kind.name!r}: ")
    if kind.validate is not None:
        problem = kind.validate(params, gates, fields)
        if problem:
            raise fail(problem, "params")
    policy = raw.get("policy")
    if policy is not None and policy not in statements:
        raise fail(f"policy {policy!r} is not a statement of this file", "policy")
    for fname in raw.get("fields") or ():
        if fname not in fields:
            raise fail(f"field {fname!r} is not declared in this file", "fields")
    _check_message(raw["message"], fail)
    return Rule(
        id=rule_id,
        category=category,
        kind=raw["kind"],
        severity=Severity(raw["severity"]),
        title=raw["title"],
        message=raw["message"],
        policy=policy,
        help=(raw.get("help") or "").strip() or None,
        fields=tuple(raw.get("fields") or ()),
        when=_selector(raw.get("when")),
        unless=_selector(raw.get("unless")),
        stages=frozenset(Stage(s) for s in raw.get("stages") or [s.value for s in Stage]),
        params=MappingProxyType(dict(params)),
        path=str(path),
        line=marked.line_of(lines, at) or 0,
    )


def _check_message(message: str, fail: Any) -> None:
    import string

    try:
        names = {f for _, f, _, _ in string.Formatter().parse(message) if f is not None}
    except ValueError as exc:
        raise fail(f"invalid message template: {exc}", "message") from None
    unknown = names - MESSAGE_FIELDS
    if unknown:
        raise fail(
            f"message uses unknown placeholder(s) {sorted(unknown)} "
            f"(allowed: {', '.join(sorted(MESSAGE_FIELDS))})",
            "message",
        )


def iter_rule_rows(pack: RulePack) -> Iterator[tuple[str, str, str, str, str]]:
    """(id, category, severity, kind, title) for ``rules list``."""
    for rule in pack.all_rules():
        yield rule.id, rule.category, rule.severity.value, rule.kind, rule.title


@functools.cache
def meta_params(name: str) -> Mapping[str, Any]:
    """The parameter schema ``$defs/name`` of the meta-schema: a kind whose parameters
    the meta-schema describes validates them with the same text."""
    found: Mapping[str, Any] = meta_schema()["$defs"][name]
    return found
