"""Recall and false-positive rate of the content rules on other projects' test samples
(run by hand, not by pytest).

Three public test suites label strings as "should be found" or "should not be found":
presidio-analyzer's recognizer tests, detect-secrets' plugin tests and gitleaks' rule
samples. Their authors chose the hard cases, so they measure our detectors more honestly
than samples we write ourselves. Nothing of those projects is copied here: clone them
anywhere outside the repository and point ``--suites`` at the folder::

    mkdir -p suites && cd suites
    git clone --depth 1 https://github.com/microsoft/presidio presidio
    git clone --depth 1 https://github.com/Yelp/detect-secrets detect-secrets
    git clone --depth 1 https://github.com/gitleaks/gitleaks gitleaks
    cd - && python tests/bench/bench_detection.py --suites suites [--json OUT]

Samples are read without running those projects' code: the Python test files are parsed
with ``ast`` (string literals in ``pytest.mark.parametrize`` lists, module constants,
``"...".format(...)``, ``+``, f-strings, slices and ``textwrap.dedent`` are evaluated),
the Go rule files with a small tokenizer (``tps``/``fps`` slices, maps and ``append``
calls of string literals, raw strings included). A sample built by a call we cannot
evaluate (gitleaks' ``GenerateSampleSecrets``, a random ``NewSecret``) is counted as
skipped, never guessed. Each source's samples are deduplicated by (kind, label, text).

Each sample is put into one event per placement (error: ErrorLog; usage: an undeclared
field and the declared FederationPartner; census: an undeclared field and DeviceModel),
one JSON Lines dump per category is scanned with only the content rules, and a sample
counts as flagged when a content rule reports a finding on the field holding it. The
table gives per source × placement × kind: positives, detected (recall), negatives,
flagged (false-positive rate), skipped, and whether the category's rules search for that
kind at all (``target``): an e-mail address in error data is allowed there, so its
"recall" says nothing about a miss. The "own" columns count only findings of the
sample's own kind (SECRET for a secret sample, CARD_NUMBER for a card): census also
reports the domain or IP address inside a secret sample, which the plain columns count
as a flag, so only the own columns compare placements. A negative is a negative *for
the detector that test was written for* (a wrong-length AWS key is still a
credential-looking string), so read the false-positive rate with that in mind. The
JSON goes to ``--json`` (default ``tests/bench/out/bench_detection.json``, kept out of git).

Some secret labels are contested: a "positive" that is an explicit placeholder, an id
labelled as a secret, a "negative" that is a well-formed credential of another format,
text one source labels both ways, or a convention the two suites disagree on. `contested`
gives each such sample a reason (rules on its text, label, origin and which catalogue
entries match it, listed in `CONTESTED_REASONS`; no sample is named), and the "adj"
columns repeat the own recall and FP rate without them. The raw columns stay the
headline; the count left out per reason is printed under the table, and ``--samples``
writes each sample's reason. Last, `acceptance` puts each source's figures per category,
pooled over the category's placements, against the targets in `TARGETS`, raw and adj.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import re
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_JSON = Path(__file__).resolve().parent / "out" / "bench_detection.json"

#: the rules whose findings count as detection (fnmatch globs)
CONTENT_RULES = ("error/secret-in-error-data", "census/identifies-user",
                 "census/identifies-organization", "usage/identifies-user",
                 "*/secret-in-data")

#: (category, field) where each sample is placed; "Detail" is declared nowhere and
#: matches no field hint, so it stands for an arbitrary undeclared string field
PLACEMENTS: tuple[tuple[str, str], ...] = (
    ("error", "ErrorLog"),
    ("usage", "Detail"),
    ("usage", "FederationPartner"),
    ("census", "Detail"),
    ("census", "DeviceModel"),
)

#: the events around a sample: valid for their category's schema, so nothing but the
#: sample itself gives a content rule a reason to speak
BASE_EVENTS: dict[str, dict[str, Any]] = {
    "error": {"category": "error", "time": "2026-03-01T04:10:23Z", "client": "meetings_app",
              "platform": "windows", "pool": "pool01.contoso.com", "ErrorCode": "0x80004005",
              "ErrorLog": "Sign-in failed: server returned 401"},
    "usage": {"category": "usage", "time": "2026-03-01T04:10:23Z", "client": "join_launcher",
              "pool": "pool01.contoso.com", "MeetingJoinAttempts": 1, "MeetingJoinSuccess": 1},
    "census": {"category": "census", "time": "2026-03-01T04:10:23Z", "AppName": "Teams",
               "DeviceModel": "Surface Pro 7", "OSName": "Windows", "OSVersion": "10.0.19045",
               "UserLanguage": "en-US",
               "UserID": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
               "DeviceID": "5E872200-F546-4CCD-8F23-AF5F507AA2DD"},
}

#: the detector entities that would find each kind; a kind none of a category's content
#: rules searches for is not a target there
KIND_ENTITIES: dict[str, tuple[str, ...]] = {
    "secret": ("SECRET",), "card": ("CARD_NUMBER",), "email": ("EMAIL", "SIP_URI"),
    "phone": ("PHONE",), "ip": ("IP_ADDRESS",), "mac": ("MAC_ADDRESS",),
    "iban": ("IBAN",), "national id": ("NATIONAL_ID",),
    "person": ("PERSON_NAME",), "domain": ("ORG_DOMAIN",),
}


@dataclass(frozen=True)
class Sample:
    """One labelled string: ``positive`` means its suite expects it to be found."""

    source: str
    kind: str
    positive: bool
    text: str
    origin: str


@dataclass
class Extracted:
    """Samples read from one source, and how many could not be evaluated, per kind."""

    samples: list[Sample] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, kind: str, n: int = 1) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + n

    def extend(self, other: Extracted) -> None:
        self.samples.extend(other.samples)
        for kind, n in other.skipped.items():
            self.skip(kind, n)

    def deduplicated(self) -> Extracted:
        """One sample per (kind, label, text): suites repeat strings across tests."""
        seen: set[tuple[str, bool, str]] = set()
        out = Extracted(skipped=dict(self.skipped))
        for s in self.samples:
            if (s.kind, s.positive, s.text) not in seen:
                seen.add((s.kind, s.positive, s.text))
                out.samples.append(s)
        return out


# ---------------------------------------------------------------- Python test files


class Unevaluable(Exception):
    """An expression we will not evaluate (a call of unknown code, a fixture, a random)."""


class _Evaluator:
    """Evaluates the literal-ish expressions test files build samples with, and nothing
    that could run code: module constants, ``+``/``*``/``%``, f-strings, slices,
    ``str.format``/``join``/case methods and ``textwrap.dedent``."""

    _STR_METHODS: frozenset[str] = frozenset(
        {"format", "join", "lower", "upper", "strip", "lstrip", "rstrip", "replace"})

    def __init__(self, tree: ast.Module) -> None:
        self.names: dict[str, ast.expr] = {}
        for node in ast.walk(tree):  # module and class constants; the last one wins
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)):
                self.names[node.targets[0].id] = node.value
        self._busy: set[str] = set()

    def __call__(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.names or node.id in self._busy:
                raise Unevaluable(node.id)
            self._busy.add(node.id)
            try:
                return self(self.names[node.id])
            finally:
                self._busy.discard(node.id)
        if isinstance(node, (ast.Tuple, ast.List)):
            return [self(e) for e in node.elts]
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    if value.format_spec is not None or value.conversion not in (-1, 115):
                        raise Unevaluable("format spec")
                    parts.append(str(self(value.value)))
                else:
                    parts.append(str(self(value)))
            return "".join(parts)
        if isinstance(node, ast.BinOp):
            left, right = self(node.left), self(node.right)
            ops: dict[type, Callable[[Any, Any], Any]] = {
                ast.Add: lambda a, b: a + b, ast.Mult: lambda a, b: a * b,
                ast.Mod: lambda a, b: a % b}
            if type(node.op) not in ops or not isinstance(left, (str, int, list)):
                raise Unevaluable("operator")
            if isinstance(node.op, ast.Mult) and any(
                    isinstance(x, int) and abs(x) > 10**5 for x in (left, right)):
                raise Unevaluable("too large")
            return ops[type(node.op)](left, right)
        if isinstance(node, ast.Subscript):
            value = self(node.value)
            sl = node.slice
            if isinstance(sl, ast.Slice):
                bounds = [None if b is None else self(b) for b in (sl.lower, sl.upper, sl.step)]
                return value[slice(*bounds)]
            return value[self(sl)]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self(node.operand)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise Unevaluable(type(node).__name__)

    def _call(self, node: ast.Call) -> Any:
        func = node.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "textwrap" and func.attr == "dedent"
                and len(node.args) == 1 and not node.keywords):
            return textwrap.dedent(self(node.args[0]))
        if isinstance(func, ast.Attribute) and func.attr in self._STR_METHODS:
            target = self(func.value)
            if not isinstance(target, str):
                raise Unevaluable("method of a non-string")
            args = [self(a) for a in node.args]
            kwargs = {k.arg: self(k.value) for k in node.keywords if k.arg is not None}
            if len(kwargs) != len(node.keywords):
                raise Unevaluable("**kwargs")
            return getattr(target, func.attr)(*args, **kwargs)
        raise Unevaluable("call")


def _argnames(node: ast.expr) -> list[str]:
    """``"a, b"`` or ``("a", "b")`` as a list of names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [n.strip() for n in node.value.split(",") if n.strip()]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [e.value for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _param_rows(node: ast.expr, evaluate: _Evaluator) -> list[ast.expr] | None:
    """The rows of a parametrize list: a literal list, or a module constant holding one."""
    for _ in range(5):
        if isinstance(node, (ast.List, ast.Tuple)):
            return list(node.elts)
        if isinstance(node, ast.Name) and node.id in evaluate.names:
            node = evaluate.names[node.id]
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = _param_rows(node.left, evaluate)
            right = _param_rows(node.right, evaluate)
            if left is None or right is None:
                return None
            return left + right
        return None
    return None


def _row_values(row: ast.expr, width: int) -> list[ast.expr] | None:
    """A row's argument expressions (``pytest.param(...)`` unwrapped)."""
    if isinstance(row, ast.Call) and isinstance(row.func, ast.Attribute) \
            and row.func.attr == "param":
        values = list(row.args)
    elif width == 1:
        values = [row]
    elif isinstance(row, (ast.Tuple, ast.List)):
        values = list(row.elts)
    else:
        return None
    return values if len(values) == width else None


#: how a parametrize row says which strings are samples: (text argument, label argument
#: or a fixed label); the label is a bool, a count (positive when > 0), or a found
#: value (positive unless None or empty)
Column = tuple[str, "str | bool"]


def _label(value: Any) -> bool | None:
    """A label cell as positive/negative; None when it is not one (or not evaluable)."""
    if value is Unevaluable:
        return None
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int):
        return value > 0
    if isinstance(value, (str, list, tuple)):
        return len(value) > 0
    return None


def python_samples(path: Path, source: str, kind_of: Callable[[list[str], list[Any]], str],
                   columns: Iterable[Column]) -> Extracted:
    """Labelled strings of one Python test file's parametrize lists."""
    out = Extracted()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return out
    evaluate = _Evaluator(tree)
    columns = list(columns)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "parametrize" and len(node.args) >= 2):
            continue
        all_names = _argnames(node.args[0])
        for names, rows in _tables(all_names, node.args[1], evaluate):
            wanted = [(names.index(text), label) for text, label in columns
                      if text in names and (label in names or label is True
                                            or (label is False and len(names) > 1)
                                            or (label == ONLY and names == [text]))]
            for row in rows if wanted else ():
                _read_row(out, path, source, row, names, wanted, evaluate, kind_of)
    return out


#: a label that says "the test's only argument, which it expects to be found"
ONLY = "<only>"


def _tables(names: list[str], node: ast.expr, evaluate: _Evaluator,
            ) -> Iterator[tuple[list[str], list[ast.expr]]]:
    """(argument names, rows) of a parametrize list. Rows built by a helper of the test
    file (``cases([("conf", CONFIG_CASES), ...])``) are read from the module lists it is
    given, as the last arguments (the helper prepends the others, such as a file type)."""
    rows = _param_rows(node, evaluate)
    if rows is not None:
        yield names, rows
        return
    if not isinstance(node, ast.Call):
        return
    seen: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in evaluate.names and sub.id not in seen:
            seen.add(sub.id)
            table = _param_rows(sub, evaluate)
            if table and all(isinstance(r, ast.Tuple) for r in table):
                width = len(table[0].elts)  # type: ignore[attr-defined]
                if 0 < width < len(names):
                    yield names[-width:], table


def _read_row(out: Extracted, path: Path, source: str, row: ast.expr, names: list[str],
              wanted: list[tuple[int, str | bool]], evaluate: _Evaluator,
              kind_of: Callable[[list[str], list[Any]], str]) -> None:
    """The samples of one parametrize row, or a skip for each we cannot evaluate."""
    values = _row_values(row, len(names))
    cells: list[Any] = [Unevaluable] * len(names)
    for k, expr in enumerate(values or ()):
        try:
            cells[k] = evaluate(expr)
        except Exception:  # a cell we do not need may fail
            cells[k] = Unevaluable
    kind = kind_of(names, cells)
    for text_at, label in wanted:
        text = cells[text_at]
        positive = label if isinstance(label, bool) else True if label == ONLY \
            else _label(cells[names.index(label)])
        if values is None or not isinstance(text, str) or not text or positive is None:
            out.skip(kind)
            continue
        out.samples.append(Sample(source, kind, positive, text,
                                  f"{path.name}:{getattr(row, 'lineno', 0)}"))


#: presidio entity names (its ``entities`` fixtures) to our kinds
PRESIDIO_ENTITIES: dict[str, str] = {
    "PERSON": "person", "DATE_TIME": "date", "LOCATION": "location", "NRP": "nrp",
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "IP_ADDRESS": "ip", "URL": "url",
    "CREDIT_CARD": "card", "IBAN_CODE": "iban", "CRYPTO": "crypto", "MAC_ADDRESS": "mac",
    "ORGANIZATION": "organization",
}

#: presidio recognizer file names (without ``test_`` and ``_recognizer``) to kinds, by
#: substring, first match wins; the rest with a country prefix are national ids
PRESIDIO_FILES: tuple[tuple[str, str], ...] = (
    ("credit_card", "card"), ("email", "email"), ("phone", "phone"), ("mobile", "phone"),
    ("iban", "iban"), ("crypto", "crypto"), ("url", "url"), ("date", "date"),
    ("mac", "mac"), ("passport", "passport"), ("driv", "driver licence"),
    ("fuehrerschein", "driver licence"), ("vehicle", "vehicle plate"),
    ("license_plate", "vehicle plate"), ("kfz", "vehicle plate"),
    ("postcode", "postcode"), ("plz", "postcode"), ("us_bank", "bank account"),
    ("aba_routing", "bank account"), ("vat", "company id"), ("gstin", "company id"),
    ("abn", "company id"), ("acn", "company id"), ("uen", "company id"),
    ("organisationsnummer", "company id"), ("handelsregister", "company id"),
    ("kr_brn", "company id"), ("ip", "ip"),
)


def _presidio_kind(path: Path, tree_entities: list[str]) -> Callable[[list[str], list[Any]], str]:
    stem = path.stem.removeprefix("test_").removesuffix("_recognizer")
    by_file = next((kind for key, kind in PRESIDIO_FILES
                    if key == stem or (key != "ip" and key in stem)), None)
    if by_file is None:
        if re.match(r"[a-z]{2}_", stem):
            by_file = "national id"
        elif tree_entities:
            by_file = PRESIDIO_ENTITIES.get(tree_entities[0], tree_entities[0].lower())
        else:
            by_file = stem.replace("_", " ")

    def kind_of(names: list[str], cells: list[Any]) -> str:
        if "entity_num" in names and tree_entities:  # NER tests: one fixture, many kinds
            num = cells[names.index("entity_num")]
            if isinstance(num, int) and 0 <= num < len(tree_entities):
                return PRESIDIO_ENTITIES.get(tree_entities[num], tree_entities[num].lower())
        return by_file

    return kind_of


def _fixture_entities(tree: ast.Module) -> list[str]:
    """The list an ``entities`` fixture returns (which entity a recognizer test checks)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "entities":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and isinstance(sub.value, ast.List):
                    return [e.value for e in sub.value.elts
                            if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


PRESIDIO_COLUMNS: tuple[Column, ...] = tuple(
    (text, label) for text in ("text", "number", "pesel", "pan", "id_number", "iban", "gstin")
    for label in ("expected_len", "expected"))


#: tests of presidio's recognizer machinery with made-up patterns, not of a kind of data
PRESIDIO_GENERIC = frozenset({"test_pattern_recognizer.py", "test_entity_recognizer.py"})


def presidio(root: Path) -> Extracted:
    """presidio-analyzer's ``tests/test_*_recognizer.py``: rows of text and expected count."""
    out = Extracted()
    folder = root / "presidio-analyzer" / "tests"
    for path in sorted(folder.glob("test_*_recognizer.py")):
        if path.name in PRESIDIO_GENERIC:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        kind_of = _presidio_kind(path, _fixture_entities(tree))
        out.extend(python_samples(path, "presidio", kind_of, PRESIDIO_COLUMNS))
    return out


DETECT_SECRETS_COLUMNS: tuple[Column, ...] = (
    ("payload", "should_flag"), ("line", "should_flag"), ("line", "expected_secret"),
    ("content", "expected_output"), ("secret", True), ("non_secret", False),
    ("file_content", ONLY), ("line", ONLY), ("payload", ONLY),
)


def detect_secrets(root: Path) -> Extracted:
    """detect-secrets' ``tests/plugins/*_test.py``: secrets and non-secrets per plugin
    (the public-IP plugin's samples are IP addresses, not secrets)."""
    out = Extracted()
    for path in sorted((root / "tests" / "plugins").glob("*_test.py")):
        kind = "ip" if path.name.startswith("ip_") else "secret"
        out.extend(python_samples(path, "detect-secrets", lambda _n, _c, k=kind: k,
                                  DETECT_SECRETS_COLUMNS))
    return out


# ---------------------------------------------------------------- Go rule files

_GO_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>`[^`]*`)
  | (?P<str>"(?:\\.|[^"\\\n])*")
  | (?P<rune>'(?:\\.|[^'\\\n])*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d[\w.]*)
  | (?P<op>\.\.\.|:=|[-+*/%&|^<>=!]=?|[()\[\]{},;:.])
""", re.VERBOSE | re.DOTALL)

_GO_ESCAPE = re.compile(r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})"
                        r"|U([0-9a-fA-F]{8})|([0-7]{3}))")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\", "'": "'", '"': '"'}


def _go_unquote(literal: str) -> str:
    """The value of a Go interpreted string literal (``\\x`` and octal are bytes)."""
    body = literal[1:-1]

    def one(m: re.Match[str]) -> str:
        simple, hx, u4, u8, octal = m.groups()
        if simple:
            return _SIMPLE[simple]
        if hx or octal:
            return chr(int(hx, 16) if hx else int(octal, 8))
        return chr(int(u4 or u8, 16))

    return _GO_ESCAPE.sub(one, body)


def go_tokens(text: str) -> list[tuple[str, str]]:
    """(type, value) tokens; strings are decoded, comments and spaces dropped."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _GO_TOKEN.match(text, pos)
        if m is None:
            out.append(("op", text[pos]))
            pos += 1
            continue
        pos = m.end()
        kind = m.lastgroup or "op"
        if kind in ("space", "comment"):
            continue
        value = m.group()
        if kind == "raw":
            out.append(("str", value[1:-1].replace("\r", "")))
        elif kind == "str":
            out.append(("str", _go_unquote(value)))
        else:
            out.append((kind, value))
    return out


class _Unknown:
    """A Go expression we did not evaluate, standing for one skipped sample."""


class _GoParser:
    """Just enough of Go's expression grammar for ``tps``/``fps`` right-hand sides:
    string literals joined by ``+``, ``[]string{...}``, ``map[string]string{...}`` and
    ``append(x, ...)``; anything else (a call, a variable) is one _Unknown."""

    def __init__(self, tokens: list[tuple[str, str]], start: int) -> None:
        self.toks, self.i = tokens, start
        #: the variable an ``append`` at the top adds to (``tps`` in ``append(tps, ...)``)
        self.append_base: str | None = None

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        k = self.i + ahead
        return self.toks[k] if k < len(self.toks) else ("eof", "")

    def skip_balanced(self) -> None:
        """Past the bracketed group the current token opens."""
        pairs = {"(": ")", "[": "]", "{": "}"}
        stack = [pairs[self.peek()[1]]]
        self.i += 1
        while stack and self.peek()[0] != "eof":
            value = self.peek()[1]
            if self.peek()[0] == "op" and value in pairs:
                stack.append(pairs[value])
            elif self.peek()[0] == "op" and value == stack[-1]:
                stack.pop()
            self.i += 1

    def expr(self) -> Any:
        left = self.primary()
        while self.peek() == ("op", "+"):
            self.i += 1
            right = self.primary()
            left = left + right if isinstance(left, str) and isinstance(right, str) \
                else _Unknown()
        return left

    def elements(self, keyed: bool) -> list[Any]:
        """``{a, b}`` (or ``{k: v, ...}``, values kept) from the ``{``."""
        self.i += 1
        items: list[Any] = []
        while self.peek()[0] != "eof" and self.peek() != ("op", "}"):
            item = self.expr()
            if keyed and self.peek() == ("op", ":"):
                self.i += 1
                item = self.expr()
            items.append(item)
            if self.peek() == ("op", ","):
                self.i += 1
            elif self.peek() != ("op", "}"):
                self.i += 1  # something we do not understand: step over it
        self.i += 1
        return items

    def primary(self) -> Any:
        kind, value = self.peek()
        if kind == "str":
            self.i += 1
            return value
        if (kind, value) == ("op", "("):
            self.i += 1
            inner = self.expr()
            if self.peek() == ("op", ")"):
                self.i += 1
            return inner
        if (kind, value) == ("op", "[") and self.peek(1) == ("op", "]"):
            while self.peek()[0] != "eof" and self.peek() != ("op", "{"):
                self.i += 1
            return self.elements(keyed=False)
        if (kind, value) == ("ident", "map") and self.peek(1) == ("op", "["):
            while self.peek()[0] != "eof" and self.peek() != ("op", "{"):
                self.i += 1
            return self.elements(keyed=True)
        if kind == "ident":
            name = value
            self.i += 1
            while self.peek() == ("op", ".") and self.peek(1)[0] == "ident":
                name += "." + self.peek(1)[1]
                self.i += 2
            result: Any = _Unknown()
            if self.peek() == ("op", "("):
                if name == "append":
                    result = self.append_args()
                else:
                    self.skip_balanced()
            while self.peek() == ("op", "["):  # an index or a slice of it
                self.skip_balanced()
                result = _Unknown()
            return result
        self.i += 1
        return _Unknown()

    def append_args(self) -> list[Any]:
        """``append(x, a, b)`` or ``append(x, ys...)``: what it adds to x."""
        self.i += 1
        first = self.peek()
        if first[0] == "ident" and self.peek(1) == ("op", ","):
            self.append_base = first[1]
        args: list[Any] = []
        while self.peek()[0] != "eof" and self.peek() != ("op", ")"):
            arg = self.expr()
            if self.peek() == ("op", "..."):
                self.i += 1
                args.append(arg if isinstance(arg, list) else [arg])
            else:
                args.append([arg])
            if self.peek() != ("op", ")"):
                self.i += 1  # past the comma (or a token we do not understand)
        self.i += 1
        added = [item for group in args[1:] for item in group]
        if args and isinstance(args[0], list) and len(args[0]) == 1 \
                and isinstance(args[0][0], list):  # append([]string{...}, ...)
            added = [*args[0][0], *added]
        return added


def go_samples(path: Path, source: str = "gitleaks", kind: str = "secret") -> Extracted:
    """True (``tps``) and false (``fps``) positive samples of one gitleaks rule file."""
    out = Extracted()
    tokens = go_tokens(path.read_text(encoding="utf-8", errors="replace"))
    for k, (tkind, value) in enumerate(tokens):
        if tkind != "ident" or value not in ("tps", "fps"):
            continue
        if k + 1 >= len(tokens) or tokens[k + 1] not in (("op", ":="), ("op", "=")):
            continue
        if k > 0 and tokens[k - 1] == ("op", "."):
            continue
        parser = _GoParser(tokens, k + 2)
        result = parser.expr()
        items = result if isinstance(result, list) else [result]
        if parser.append_base not in (None, value):  # append(other_list, ...)
            items.append(_Unknown())
        for item in items:
            if isinstance(item, str) and item:
                out.samples.append(Sample(source, kind, value == "tps", item,
                                          f"{path.name}:{value}"))
            else:
                out.skip(kind)
    return out


def gitleaks(root: Path) -> Extracted:
    """gitleaks' ``cmd/generate/config/rules/*.go``: every rule's tps and fps."""
    out = Extracted()
    for path in sorted((root / "cmd" / "generate" / "config" / "rules").glob("*.go")):
        if not path.name.endswith("_test.go"):
            out.extend(go_samples(path))
    return out


SOURCES: dict[str, tuple[str, Callable[[Path], Extracted]]] = {
    "presidio": ("presidio", presidio),
    "detect-secrets": ("detect-secrets", detect_secrets),
    "gitleaks": ("gitleaks", gitleaks),
}


# ---------------------------------------------------------------- contested labels

#: Why a secret sample's label is contested: it contradicts the rules the issue sets
#: (an explicit placeholder is no secret, an id is no secret), the other suite, the same
#: suite, or a format another catalogue entry documents. Each reason is a rule on the
#: sample's text, its label, its origin and which catalogue entries match it; no sample
#: is named. Raw figures stay the headline; the adjudicated ones leave these out.
CONTESTED_REASONS: dict[str, str] = {
    "labelled-both-ways": "the same text is labelled positive and negative in this source",
    "value-labelled-both-ways": "the value the catalogue reports is labelled positive in one "
                                "sample of this source and negative in another: the label "
                                "follows something the text does not hold (the file type's "
                                "quoting rules), and every sample here sits in one field",
    "placeholder": "a positive holding an explicit stand-in (a held run of x, X, Z, * or 0, "
                   "the word EXAMPLE, or fake/dummy inside a token)",
    "id-or-account": "a positive whose only values sit under id, user, account or host names, "
                     "or a bare host name, and that no token format of the catalogue matches: "
                     "identifiers, not secrets",
    "suites-disagree": "a damaged JWT header or a private key header without a base64 body: "
                       "one suite labels such text positive, the other negative",
    "format-negative": "a negative holding a credential of a vendor format that this source "
                       "labels positive in another test file (a negative for another "
                       "detector, or by an allowlist of values)",
    "generic-credential-negative": "a negative of a vendor's test that assigns a value to a "
                                   "password, token or key name the way this source's own "
                                   "generic (keyword) tests label positive",
}

#: catalogue entries that judge a name and a value, not a documented token format
GENERIC_ENTRIES = frozenset({
    "password-assignment", "password-statement", "password-comparison",
    "key-variable-assignment", "config-key-value", "connection-string-password",
    "cli-secret-option", "lookup-default", "url-credentials", "bearer-token", "basic-auth",
    "digest-auth", "authorization-header", "curl-user", "oauth-refresh-token",
    "oauth-authorization-code"})

#: test files of generic detectors (their negatives are meant for the generic entries)
GENERIC_TESTS = frozenset({"keyword", "generic", "high_entropy_strings", "basic_auth", "curl"})

_STAND_IN = re.compile(r"([xXZ*0])\1{5,}|EXAMPLE"
                       r"|[A-Za-z0-9](?i:fake|dummy)|(?i:fake|dummy)[A-Za-z0-9]")
_ASSIGNED_NAME = re.compile(r"""([A-Za-z0-9_.-]+)["'\]]*[ \t]*(?::{1,3}=|=|:)""")
_ID_NAME = re.compile(r"(?i)(?:id|user|username|uname|userid|account|hostname)$")
_BARE_HOST = re.compile(r"https?://[A-Za-z0-9_.-]+/?")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_JWT_LIKE = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{2,}")
_PEM_HEADER = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----")


def labelled_both_ways(samples: Iterable[Sample]) -> frozenset[tuple[str, str, str]]:
    """(source, kind, text) of the texts one source labels both positive and negative."""
    seen: dict[tuple[str, str, str], set[bool]] = {}
    for s in samples:
        seen.setdefault((s.source, s.kind, s.text), set()).add(s.positive)
    return frozenset(key for key, labels in seen.items() if len(labels) == 2)


def values_labelled_both_ways(samples: Iterable[Sample]) -> frozenset[tuple[str, str]]:
    """(source, value) of the values the catalogue reports in a positive and in a negative
    secret sample of one source."""
    from audit.detectors.credentials import SECRET

    seen: dict[tuple[str, str], set[bool]] = {}
    for s in samples:
        if s.kind == "secret":
            for m in SECRET.find(s.text):
                seen.setdefault((s.source, m.value), set()).add(s.positive)
    return frozenset(key for key, labels in seen.items() if len(labels) == 2)


def _stem(origin: str) -> str:
    """The test a sample comes from, without its place in it (``gitlab_token_test.py:50`` ->
    ``gitlab_token``)."""
    return re.sub(r"(_test)?\.(py|go)$", "", origin.split(":", 1)[0])


def positive_formats(samples: Iterable[Sample]) -> frozenset[tuple[str, str, str]]:
    """(source, catalogue entry, test) for every entry that finds a secret in a positive
    sample of that source's test: which formats the source itself calls credentials, and
    where. A negative is contested on this evidence only, never on our catalogue alone."""
    from audit.detectors.credentials import SECRET

    return frozenset((s.source, m.detector, _stem(s.origin)) for s in samples
                     if s.kind == "secret" and s.positive for m in SECRET.find(s.text))


def _damaged(text: str) -> bool:
    """A JWT-shaped run whose header is no JSON with "alg", or a private key header whose
    block has no base64 body."""
    from audit.detectors.catalogue import _jwt_alg

    if any(_jwt_alg(m.group(0)) is None for m in _JWT_LIKE.finditer(text)):
        return True
    from audit.detectors.credentials import SECRET

    return bool(_PEM_HEADER.search(text)) and not any(
        m.detector == "private-key-block" for m in SECRET.find(text))


def contested(sample: Sample, twins: frozenset[tuple[str, str, str]] = frozenset(),
              value_twins: frozenset[tuple[str, str]] = frozenset(),
              formats: frozenset[tuple[str, str, str]] = frozenset()) -> str | None:
    """The `CONTESTED_REASONS` key that applies to a secret sample, else None; ``twins``
    and ``value_twins`` are `labelled_both_ways` and `values_labelled_both_ways` of the
    samples, ``formats`` their `positive_formats`."""
    if sample.kind != "secret":
        return None
    text = sample.text
    if (sample.source, sample.kind, text) in twins:
        return "labelled-both-ways"
    if _damaged(text):
        return "suites-disagree"
    if sample.positive and _STAND_IN.search(text):
        return "placeholder"
    from audit.detectors.credentials import SECRET

    matches = SECRET.find(text)
    if any((sample.source, m.value) in value_twins for m in matches):
        return "value-labelled-both-ways"
    found = {m.detector for m in matches}
    if sample.positive:
        names = _ASSIGNED_NAME.findall(_URL.sub(" ", text))
        if not found - GENERIC_ENTRIES and (
                (names and all(_ID_NAME.search(n.rstrip("\"'")) for n in names))
                or _BARE_HOST.fullmatch(text.strip())):
            return "id-or-account"
        return None
    stem = _stem(sample.origin)
    if any((sample.source, e, other) in formats for e in found - GENERIC_ENTRIES
           for other in _tests_of(formats, sample.source, e) if other != stem):
        return "format-negative"
    if stem not in GENERIC_TESTS and any(
            (sample.source, e, g) in formats for e in found & GENERIC_ENTRIES
            for g in GENERIC_TESTS):
        return "generic-credential-negative"
    return None


def _tests_of(formats: frozenset[tuple[str, str, str]], source: str, entry: str) -> set[str]:
    return {t for s, e, t in formats if s == source and e == entry}


# ---------------------------------------------------------------- scanning


def content_rules(pack: Any) -> tuple[list[str], list[str]]:
    """(content rule ids, every other rule id): the others are skipped in the scan."""
    keep = [r for r in pack.rules if any(fnmatch.fnmatch(r, g) for g in CONTENT_RULES)]
    return keep, [r for r in pack.rules if r not in keep]


def targets(pack: Any, keep: list[str]) -> dict[str, set[str]]:
    """Per category, the kinds its content rules search for."""
    out: dict[str, set[str]] = {}
    for rule_id in keep:
        rule = pack.rules[rule_id]
        entities = set(rule.params.get("entities") or ())
        kinds = {kind for kind, names in KIND_ENTITIES.items() if entities & set(names)}
        out.setdefault(rule.category, set()).update(kinds)
    return out


def scan_samples(samples: list[Sample], workdir: Path,
                 placements: Iterable[tuple[str, str]] = PLACEMENTS,
                 detectors: dict[tuple[int, str, str], set[str]] | None = None,
                 ) -> dict[tuple[int, str, str], str]:
    """Scan every sample in every placement; per (sample index, category, field) its
    outcome: ``flagged``, ``clean`` or ``rejected`` (the record was not audited).
    ``detectors``, when given, collects the entities found on the sample's field, so a
    table can count only findings of the sample's own kind."""
    import audit

    pack = audit.load_rule_pack()
    _keep, skip = content_rules(pack)
    by_category: dict[str, list[str]] = {}
    for category, fld in placements:
        by_category.setdefault(category, []).append(fld)
    outcome: dict[tuple[int, str, str], str] = {}
    for category, fields in by_category.items():
        path = workdir / f"{category}.jsonl"
        where: dict[int, tuple[int, str]] = {}
        with path.open("w", encoding="utf-8") as fh:
            line = 0
            for index, sample in enumerate(samples):
                for fld in fields:
                    line += 1
                    fh.write(json.dumps({**BASE_EVENTS[category], fld: sample.text}) + "\n")
                    where[line] = (index, fld)
                    outcome[(index, category, fld)] = "clean"
        report = audit.scan(inputs=(str(path),), skip_rules=tuple(skip), quiet=True,
                            jobs=1, out_dir=workdir)
        for finding in report.findings:
            if finding.line not in where:
                continue
            index, fld = where[finding.line]
            if finding.rule == "input/malformed-record":
                outcome[(index, category, fld)] = "rejected"
            elif finding.rule not in skip and finding.field == fld:
                if outcome[(index, category, fld)] == "clean":
                    outcome[(index, category, fld)] = "flagged"
                if detectors is not None and finding.detector:
                    detectors.setdefault((index, category, fld), set()).add(finding.detector)
    return outcome


def tabulate(samples: list[Sample], skipped: dict[str, dict[str, int]],
             outcome: dict[tuple[int, str, str], str], target: dict[str, set[str]],
             placements: Iterable[tuple[str, str]] = PLACEMENTS,
             detectors: dict[tuple[int, str, str], set[str]] | None = None,
             reasons: list[str | None] | None = None,
             ) -> list[dict[str, Any]]:
    """Rows per source × placement × kind. With ``detectors`` a row also counts
    ``own_detected``/``own_flagged``: only findings of the sample's own kind (a secret
    sample flagged for the domain in it is not a secret false positive), so placements
    whose categories search for different kinds compare. With ``reasons`` (one per
    sample, see `contested`) the ``adj_*`` counts leave the contested samples out."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    placements = list(placements)

    def row(source: str, category: str, fld: str, kind: str) -> dict[str, Any]:
        key = (source, f"{category}:{fld}", kind)
        if key not in rows:
            rows[key] = {"source": source, "placement": f"{category}:{fld}", "kind": kind,
                         "target": kind in target.get(category, set()), "positives": 0,
                         "detected": 0, "negatives": 0, "flagged": 0, "rejected": 0,
                         "skipped": 0, "own_detected": 0, "own_flagged": 0,
                         "adj_positives": 0, "adj_negatives": 0, "adj_own_detected": 0,
                         "adj_own_flagged": 0, "contested": {}}
        return rows[key]

    for index, sample in enumerate(samples):
        for category, fld in placements:
            r = row(sample.source, category, fld, sample.kind)
            result = outcome[(index, category, fld)]
            reason = reasons[index] if reasons is not None else None
            r["positives" if sample.positive else "negatives"] += 1
            if reason is None:
                r["adj_positives" if sample.positive else "adj_negatives"] += 1
            else:
                r["contested"][reason] = r["contested"].get(reason, 0) + 1
            if result == "flagged":
                r["detected" if sample.positive else "flagged"] += 1
                found = (detectors or {}).get((index, category, fld), set())
                if found & set(KIND_ENTITIES.get(sample.kind, ())):
                    r["own_detected" if sample.positive else "own_flagged"] += 1
                    if reason is None:
                        r["adj_own_detected" if sample.positive else "adj_own_flagged"] += 1
            elif result == "rejected":
                r["rejected"] += 1
    for source, kinds in skipped.items():
        for kind, n in kinds.items():
            for category, fld in placements:
                row(source, category, fld, kind)["skipped"] += n
    out = []
    for key in sorted(rows):
        r = rows[key]
        r["recall"] = round(r["detected"] / r["positives"], 4) if r["positives"] else None
        r["fp_rate"] = round(r["flagged"] / r["negatives"], 4) if r["negatives"] else None
        r["own_recall"] = (round(r["own_detected"] / r["positives"], 4)
                           if r["positives"] else None)
        r["own_fp_rate"] = (round(r["own_flagged"] / r["negatives"], 4)
                            if r["negatives"] else None)
        r["adj_own_recall"] = (round(r["adj_own_detected"] / r["adj_positives"], 4)
                               if r["adj_positives"] else None)
        r["adj_own_fp_rate"] = (round(r["adj_own_flagged"] / r["adj_negatives"], 4)
                                if r["adj_negatives"] else None)
        out.append(r)
    return out


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:5.1f}%"


def render(rows: list[dict[str, Any]]) -> str:
    """The table as aligned text (target kinds marked with *)."""
    head = ("source", "placement", "kind", "pos", "det", "recall", "neg", "flag", "FP rate",
            "rej", "skip", "own recall", "own FP", "contested", "adj recall", "adj FP")
    lines = [[r["source"], r["placement"], r["kind"] + (" *" if r["target"] else ""),
              str(r["positives"]), str(r["detected"]), _pct(r["recall"]),
              str(r["negatives"]), str(r["flagged"]), _pct(r["fp_rate"]),
              str(r["rejected"]), str(r["skipped"]), _pct(r.get("own_recall")),
              _pct(r.get("own_fp_rate")), str(sum(r.get("contested", {}).values())),
              _pct(r.get("adj_own_recall")), _pct(r.get("adj_own_fp_rate"))] for r in rows]
    return "\n".join([*_aligned(head, lines, left=3),
                      "* a kind the placement's category's content rules search for; "
                      "own: counting only findings of the sample's own kind; adj: own, "
                      "without the contested samples (see render_contested)"])


def _aligned(head: Sequence[str], lines: list[list[str]], left: int) -> list[str]:
    """``head`` and ``lines`` as rows of padded columns: the first ``left`` columns
    aligned left, the others right."""
    widths = [max(len(h), *(len(x[k]) for x in lines)) if lines else len(h)
              for k, h in enumerate(head)]
    fmt = "  ".join(f"{{:{'<' if k < left else '>'}{w}}}" for k, w in enumerate(widths))
    return [fmt.format(*head), *(fmt.format(*x) for x in lines)]


def render_contested(samples: list[Sample], reasons: list[str | None]) -> str:
    """How many samples each reason left out of the adjudicated figures, per source."""
    counts: dict[tuple[str, str, str], int] = {}
    for s, reason in zip(samples, reasons, strict=True):
        if reason is not None:
            key = (s.source, reason, "positive" if s.positive else "negative")
            counts[key] = counts.get(key, 0) + 1
    lines = ["contested samples (left out of adj recall / adj FP):"]
    lines += [f"  {src:<15} {reason:<28} {label:<8} {n:>4}  {CONTESTED_REASONS[reason]}"
              for (src, reason, label), n in sorted(counts.items())]
    return "\n".join(lines if counts else [*lines, "  none"])


#: The issue's acceptance targets: measure -> (bound, whether the figure must reach it
#: rather than stay under it). Secrets count only findings of their own kind (the "own"
#: columns); PII pools every other kind its category's rules search for.
TARGETS: dict[str, tuple[float, bool]] = {
    "secret recall": (0.90, True),
    "secret FP": (0.02, False),
    "in-scope PII recall": (0.95, True),
}


def acceptance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each source's figures per category against `TARGETS`, pooled over the category's
    placements: raw, and without the contested samples (adj)."""
    pooled: dict[tuple[str, str, str], list[int]] = {}
    for r in rows:
        category = r["placement"].split(":", 1)[0]
        if r["kind"] == "secret":
            counts = [("secret recall", r["own_detected"], r["positives"],
                       r["adj_own_detected"], r["adj_positives"]),
                      ("secret FP", r["own_flagged"], r["negatives"],
                       r["adj_own_flagged"], r["adj_negatives"])]
        elif r["target"]:
            counts = [("in-scope PII recall", r["own_detected"], r["positives"],
                       r["adj_own_detected"], r["adj_positives"])]
        else:
            continue
        for measure, *numbers in counts:
            total = pooled.setdefault((r["source"], category, measure), [0, 0, 0, 0])
            for k, n in enumerate(numbers):
                total[k] += n
    out = []
    for (source, category, measure), (hit, of, adj_hit, adj_of) in sorted(pooled.items()):
        if not of:
            continue
        bound, at_least = TARGETS[measure]
        raw, adj = hit / of, (adj_hit / adj_of if adj_of else None)
        out.append({"source": source, "category": category, "measure": measure,
                    "target": bound, "at_least": at_least, "hit": hit, "of": of,
                    "raw": round(raw, 4), "met": _meets(raw, measure), "adj_hit": adj_hit,
                    "adj_of": adj_of, "adj": None if adj is None else round(adj, 4),
                    "adj_met": _meets(adj, measure)})
    return out


def _meets(value: float | None, measure: str) -> bool | None:
    """Whether ``value`` meets the measure's target (None: nothing to judge)."""
    if value is None:
        return None
    bound, at_least = TARGETS[measure]
    return value >= bound if at_least else value <= bound


def render_acceptance(figures: list[dict[str, Any]]) -> str:
    """The acceptance figures as aligned text, each with whether it meets its target."""
    def shown(value: float | None, hit: int, of: int, met: bool | None) -> str:
        if value is None:
            return "—"
        return f"{_pct(value).strip()} ({hit}/{of}) {'met' if met else 'SHORT'}"

    head = ("source", "category", "measure", "target", "raw", "without contested")
    lines = [[f["source"], f["category"], f["measure"],
              f"{'≥' if f['at_least'] else '≤'} {f['target'] * 100:g}%",
              shown(f["raw"], f["hit"], f["of"], f["met"]),
              shown(f["adj"], f["adj_hit"], f["adj_of"], f["adj_met"])] for f in figures]
    return "\n".join(["acceptance (the issue's targets, per source and category; counts are "
                      "samples × the category's placements):",
                      *("  " + row for row in _aligned(head, lines, left=len(head)))])


def extract(suites: Path, names: Iterable[str]) -> dict[str, Extracted]:
    """Each chosen source's deduplicated samples; a missing clone is an error."""
    out = {}
    for name in names:
        folder, reader = SOURCES[name]
        root = suites / folder
        if not root.is_dir():
            raise SystemExit(f"{root}: not found (clone it, see --help)")
        out[name] = reader(root).deduplicated()
    return out


def suite_commit(root: Path) -> str | None:
    """The clone's commit, so a table can be compared with a later one of the same suite."""
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def iter_samples(extracted: dict[str, Extracted], limit: int | None) -> Iterator[Sample]:
    for ex in extracted.values():
        yield from ex.samples[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", type=Path, required=True,
                        help="folder holding the presidio, detect-secrets and gitleaks clones")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the table goes")
    parser.add_argument("--source", action="append", choices=sorted(SOURCES),
                        help="only this source (repeatable; all by default)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most this many samples per source (a quick look)")
    parser.add_argument("--samples", type=Path, default=None,
                        help="also write every sample with its outcome (JSON Lines)")
    args = parser.parse_args(argv)

    import audit

    started = time.perf_counter()
    extracted = extract(args.suites, args.source or list(SOURCES))
    samples = list(iter_samples(extracted, args.limit))
    skipped = {name: ex.skipped for name, ex in extracted.items()}
    pack = audit.load_rule_pack()
    keep, _skip = content_rules(pack)
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as tmp:
        detectors: dict[tuple[int, str, str], set[str]] = {}
        outcome = scan_samples(samples, Path(tmp), detectors=detectors)
    twins, value_twins = labelled_both_ways(samples), values_labelled_both_ways(samples)
    formats = positive_formats(samples)
    reasons = [contested(s, twins, value_twins, formats) for s in samples]
    rows = tabulate(samples, skipped, outcome, targets(pack, keep), detectors=detectors,
                    reasons=reasons)
    print(render(rows))
    print(render_contested(samples, reasons))
    figures = acceptance(rows)
    print(render_acceptance(figures))
    print(f"{len(samples):,} samples × {len(PLACEMENTS)} placements in "
          f"{time.perf_counter() - started:.1f} s; rules: {', '.join(keep)}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    commits = {name: suite_commit(args.suites / SOURCES[name][0]) for name in extracted}
    args.json.write_text(json.dumps({"suites": commits, "rules": keep, "placements": [
        f"{c}:{f}" for c, f in PLACEMENTS], "rows": rows, "acceptance": figures}, indent=2)
        + "\n", encoding="utf-8")
    if args.samples is not None:
        with args.samples.open("w", encoding="utf-8") as fh:
            for index, s in enumerate(samples):
                fh.write(json.dumps({"source": s.source, "kind": s.kind,
                                     "positive": s.positive, "origin": s.origin,
                                     "text": s.text, "contested": reasons[index],
                                     "outcome": {
                                         f"{c}:{f}": outcome[(index, c, f)]
                                         for c, f in PLACEMENTS}, "detectors": {
                                         f"{c}:{f}": sorted(detectors.get((index, c, f), ()))
                                         for c, f in PLACEMENTS}}) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
