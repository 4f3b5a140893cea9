"""The secret catalogue (``secrets.yaml``): token formats as data, with their checks.

Why data: every pattern goes into one Hyperscan database (`multipattern`), so adding
a format is one entry and one pair of test samples, not a new detector. The file is
validated against ``audit/schemas/secrets.schema.json`` and a mistake names its
file:line like a rule file's. Validators, the placeholder filter and the entropy
floor are Python: they only run on values a pattern hit.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from audit import marked
from audit.detectors.filters import b64decode_loose
from audit.errors import RuleFileError

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE / "secrets.yaml"
SCHEMA = HERE.parent / "schemas" / "secrets.schema.json"

_PLACEHOLDERS = frozenset(
    {"null", "none", "nil", "undefined", "empty", "redacted", "hidden", "masked", "removed",
     "true", "false", "yes", "no", "xxx", "xxxx", "****", "password", "changeme",
     "changeme_not_set", "change_me", "placeholder", "example", "dummy", "secret", "token",
     "your_token_here", "your_api_key", "your_api_key_here", "%s", "{0}", "{}", "?", "..."}
)
_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%")
_MASKED = re.compile(r"[xX*.#•_-]{3,}")


def not_placeholder(value: str) -> bool:
    """False for a value that stands in for a secret: documentation examples
    (``AKIA...EXAMPLE``), masks (``***``, ``XXXX``), variables (``$API_KEY``,
    ``${VAR}``, ``%PWD%``), templates (``<token>``, ``{password}``) and words such
    as ``changeme`` or ``null``."""
    v = value.strip().strip("\"'").strip()
    if len(v) < 3 or v.lower() in _PLACEHOLDERS:
        return False
    if len(set(v)) == 1 or _MASKED.fullmatch(v) or _VARIABLE.fullmatch(v):
        return False
    if v.upper().endswith("EXAMPLE") or v.upper().startswith("XXXX"):
        return False
    if v.startswith(("<", "{", "$", "%")) and v.endswith((">", "}", "%")):
        return False  # <redacted>, {password}, ${PWD}, %PASSWORD%
    return not (v.startswith("[") and v.endswith("]"))


def entropy(value: str) -> float:
    """Shannon entropy in bits per character (a word scores low, a random key high)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _token(value: str) -> bool:
    return len(value) >= 16 and len(set(value)) >= 6


def _jwt_alg(value: str) -> str | None:
    data = b64decode_loose(value.split(".", 1)[0])
    if data is None:
        return None
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    alg = obj.get("alg") if isinstance(obj, dict) else None
    return alg if isinstance(alg, str) else None


def _jwt(value: str) -> bool:
    alg = _jwt_alg(value)
    return alg is not None and alg.lower() != "none"


def _jwt_none(value: str) -> bool:
    alg = _jwt_alg(value)
    return alg is not None and alg.lower() == "none"


def _base64_key(value: str) -> bool:
    data = b64decode_loose(value)
    return data is not None and len(data) >= 16 and len(set(value)) >= 8


def _basic_auth(value: str) -> bool:
    """``Basic`` credentials are base64 of ``user:password``."""
    data = b64decode_loose(value)
    if data is None:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    _user, sep, password = text.partition(":")
    return bool(sep and password) and text.isprintable() and not_placeholder(password)


def _discord_bot(value: str) -> bool:
    """A bot token's first part is the bot's user id (a snowflake) in base64."""
    data = b64decode_loose(value.split(".", 1)[0])
    return data is not None and data.isdigit() and 17 <= len(data) <= 20


def _aws_secret(value: str) -> bool:
    """40 base64 characters of a random key: mixed case and digits, not a word."""
    return (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and any(c.isdigit() for c in value) and entropy(value) >= 4.0)


VALIDATORS: Mapping[str, Callable[[str], bool]] = {
    "jwt": _jwt,
    "jwt-none": _jwt_none,
    "token": _token,
    "base64-key": _base64_key,
    "basic-auth": _basic_auth,
    "discord-bot": _discord_bot,
    "aws-secret": _aws_secret,
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One format of the catalogue; `accepts` runs its Python checks on a hit's value."""

    id: str
    title: str
    pattern: str
    keywords: tuple[str, ...] = ()
    validator: str | None = None
    entropy: float | None = None
    placeholder: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # ASCII classes and word boundaries, as Hyperscan matches bytes.
        object.__setattr__(self, "regex", re.compile(self.pattern, re.ASCII))

    @property
    def explanation(self) -> str:
        """The finding's one-line reason: the entry, never the value."""
        return f"SECRET via catalogue {self.id} ({self.title})"

    def accepts(self, value: str) -> bool:
        """Whether a matched value passes the entry's validator, placeholder filter and
        entropy floor."""
        if self.placeholder and not not_placeholder(value):
            return False
        if self.entropy is not None and entropy(value) < self.entropy:
            return False
        return self.validator is None or VALIDATORS[self.validator](value)


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def parse(text: str, path: str) -> tuple[Entry, ...]:
    """A catalogue's entries; a schema error, a duplicate id or a pattern Python cannot
    compile is a `RuleFileError` naming file:line."""
    doc, lines = marked.load(text, path, RuleFileError)
    marked.check(_schema(), doc, lines, path, RuleFileError)
    entries: list[Entry] = []
    seen: set[str] = set()
    for i, item in enumerate(doc["secrets"]):
        at = f"/secrets/{i}"
        if item["id"] in seen:
            raise RuleFileError(f"duplicate secret id {item['id']!r}", path=path,
                                line=marked.line_of(lines, f"{at}/id"), pointer=f"{at}/id")
        seen.add(item["id"])
        try:
            entries.append(Entry(
                id=item["id"], title=item["title"], pattern=item["pattern"],
                keywords=tuple(item.get("keywords", ())), validator=item.get("validator"),
                entropy=item.get("entropy"), placeholder=item.get("placeholder", False)))
        except re.error as exc:
            raise RuleFileError(f"invalid pattern: {exc}", path=path,
                                line=marked.line_of(lines, f"{at}/pattern"),
                                pointer=f"{at}/pattern") from None
    return tuple(entries)


@cache
def load(path: str | None = None) -> tuple[Entry, ...]:
    """The shipped catalogue (or the one at ``path``), parsed once per process."""
    where = path or str(CATALOGUE)
    return parse(marked.read_text(where, RuleFileError, "secret catalogue"), where)
