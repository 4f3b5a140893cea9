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
from itertools import pairwise
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
     "your_token_here", "your_api_key", "your_api_key_here", "%s", "{0}", "{}", "?", "...",
     "pass", "user", "username", "passwd", "pwd", "required", "optional", "string", "str",
     "new"}
)
#: words that mark a documentation or test stand-in wherever they are in the value
_PLACEHOLDER_PARTS = ("example", "fake", "dummy", "placeholder", "changeme", "change_me",
                      "your_", "your-", "insert_", "insert-", "_here", "-here", "redacted")
#: a variable named like this holds a stand-in (fake_api_key, example_token)
_NAME_PLACEHOLDERS = ("fake", "dummy", "example", "sample", "placeholder")
#: a name that begins by negating or asking (not_secret, no_password, is_secret,
#: has_password) holds a flag or a description, not the secret
_NAME_NEGATIONS = ("not_", "no_", "non_", "is_", "has_")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[-.]")


def _words(name: str) -> str:
    """A variable name as lower-case words joined by _: csrfToken, csrf-token, csrf.token
    and CSRF_TOKEN are all ``csrf_token``."""
    return _SEPARATORS.sub("_", _CAMEL.sub("_", name)).lower()


_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%")
_MASKED = re.compile(r"[xX*.#•_-]{3,}")
#: a mask inside a token (ghp_xxxxxxxx..., sk-****)
_MASK_RUN = re.compile(r"[xX*#•]{6}")
#: one character held down (AKIAZZZZZZZZZZZZZZZZ, glc_1111...): a run of six or more
#: that is a quarter of the value; random base64 of binary data has shorter runs of A
_HELD_RUN = re.compile(r"(.)\1{5,}")
#: a reference to where the secret is, not the secret: var.db_password,
#: settings.SECRET_KEY, os.getenv("X"), $(cat file), ENC[AES256_GCM,...] (SOPS
#: ciphertext); a dotted run with mixed-case parts (s.ZC9Ecf4M5g...) is a token
_REFERENCE = re.compile(
    r"(?:(?:[a-z_][a-z0-9_]*|[A-Z_][A-Z0-9_]*)\.)+(?:[a-z_][a-z0-9_]*|[A-Z_][A-Z0-9_]*)"
    r"|[A-Za-z_][A-Za-z0-9_.]*\(.*|\$[({].*|ENC\[.*")
#: an upper-case constant's name (API_KEY = MY_API_KEY) stands for its value
_CONSTANT = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
#: typed sequences (abcdefgh, 12345678) are what people write in place of a key: a run
#: this long that is at least half the value (abcdefgh12345678, abcdefghijklmnopqrstuvwxyz1)
#: is a stand-in; inside a longer key-shaped value (1234567890abcdef twice, a GUID with
#: ABCD groups) it is part of the key, as a vendor's or the variable's name says
_SEQUENCE_RUN = 8
#: a lower-case identifier of several words (real_key, db_password) is a variable's name
_IDENTIFIER = re.compile(r"[a-z]+(?:_[a-z]+)+")


def _sequence_run(value: str) -> int:
    """Length of the longest run of successive characters (``abcd``, ``1234``)."""
    best = run = 1
    low = value.lower()
    for a, b in pairwise(low):
        run = run + 1 if ord(b) - ord(a) == 1 else 1
        best = max(best, run)
    return best


def not_placeholder(value: str, chosen: bool = False) -> bool:
    """False for a value that stands in for a secret: documentation examples
    (``AKIA...EXAMPLE``), masks (``***``, ``XXXX``, ``ghp_xxxx...``), variables and
    references (``$API_KEY``, ``${VAR}``, ``%PWD%``, ``var.db_password``, ``real_key``),
    templates (``<token>``, ``{password}``), typed sequences that are most of the value
    (``abcdefgh12345678``, not ``1234567890abcdef`` repeated into a 48-character key) and
    words such as ``changeme``, ``insert_key_here`` or ``null``.

    A ``chosen`` value (a password a person picked, not a generated key) may be a typed
    sequence: ``12345678`` is a stand-in for a token and a real, weak password. Three
    characters or fewer (``abc``, ``foo``) stand in for a value in any case."""
    v = value.strip().strip("\"'`").strip()
    low = v.lower()
    if len(v) < 4 or low in _PLACEHOLDERS or not any(c.isalnum() for c in v):
        return False
    if len(set(v)) == 1 or _MASKED.fullmatch(v) or _VARIABLE.fullmatch(v):
        return False
    if v.upper().endswith("EXAMPLE") or v.upper().startswith("XXXX") or "EXAMPLE" in v:
        return False
    if any(part in low for part in _PLACEHOLDER_PARTS) or v.endswith(("...", "…")):
        return False
    if _MASK_RUN.search(v) or _REFERENCE.fullmatch(v) or _CONSTANT.fullmatch(v) \
            or _IDENTIFIER.fullmatch(v):
        return False
    if any(len(m.group(0)) * 4 >= len(v) for m in _HELD_RUN.finditer(v)):
        return False
    if not chosen and (run := _sequence_run(v)) >= _SEQUENCE_RUN and run * 2 >= len(v):
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


def _b64_json(part: str) -> dict[str, Any] | None:
    data = b64decode_loose(part)
    if data is None:
        return None
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _jwt_alg(value: str) -> str | None:
    """The header's ``alg``: None when the header does not decode to a JSON object with
    one (a damaged or hand-edited header is no token a server would accept)."""
    header = _b64_json(value.split(".", 1)[0])
    if header is None:
        return None
    alg = header.get("alg")
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
    # a byte or two that is no UTF-8 (a mistyped character) leaves user:password readable
    text = data.decode("utf-8", "replace")
    if text.count("\ufffd") > 2 or text.startswith("{"):
        return False  # not text, or JSON: a JWT's header ({"alg":...}) put after Basic
    _user, sep, password = text.partition(":")
    return (bool(sep and password) and text.isprintable()
            and not_placeholder(password, chosen=True))


def _discord_bot(value: str) -> bool:
    """A bot token's first part is the bot's user id (a snowflake) in base64. A first
    part that decodes to other text is not one; one that decodes to no text at all
    must at least look random (mixed case and digits)."""
    first = value.split(".", 1)[0]
    data = b64decode_loose(first)
    if data is not None and data.isdigit():
        return 17 <= len(data) <= 20
    if data is not None and data.isascii() and data.decode("ascii").isprintable():
        return False
    return (any(c.isupper() for c in first) and any(c.islower() for c in first)
            and any(c.isdigit() for c in first) and entropy(value) >= 4.0)


def _unbrace(value: str) -> str:
    """``{ZqL5kVrX1n8t}`` is a random password someone wrapped in braces (``"{u}":"{p}"``),
    ``{password}`` a template: the braces come off only a mixed-case value with a digit."""
    inner = value[1:-1]
    if value.startswith("{") and value.endswith("}") and "{" not in inner and "}" not in inner \
            and any(c.isupper() for c in inner) and any(c.islower() for c in inner) \
            and any(c.isdigit() for c in inner):
        return inner
    return value


def _user_password(value: str) -> bool:
    """``user:password`` of ``curl -u``: a real password (not ``user:pass``, not
    ``uid:gid``, not the user name again), or an API key passed as the user name with an
    empty password (``-u sk_...:``). Either may be quoted on its own (``"u":"p"``)."""
    user, _sep, password = value.partition(":")
    user, password = user.strip("\"'"), _unbrace(password.strip("\"'"))
    if not password:
        return len(user) >= 12 and entropy(user) >= 3.0 and not_placeholder(user)
    if password == user or (password.isdigit() and user.isdigit()):
        return False
    return not_placeholder(password, chosen=True)


_STRICT_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _kubernetes_secret(value: str) -> bool:
    """A value under a Secret's ``data:`` is base64 of the secret, under ``stringData:``
    the secret itself: judged as text a person chose, after decoding. Too short to be
    a secret (``admin``, ``bar``) or a placeholder is none; bytes that are no text
    (a key, a keystore) are one."""
    text = value
    if _STRICT_BASE64.fullmatch(value):
        data = b64decode_loose(value)
        if data is not None:
            try:
                text = data.decode("utf-8").strip()
            except UnicodeDecodeError:
                return len(data) >= 8
    return len(text) >= 6 and not_placeholder(text, chosen=True)


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
    "user-password": _user_password,
    "kubernetes-secret": _kubernetes_secret,
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
    ignore_names: tuple[str, ...] = ()
    chosen: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # ASCII classes and word boundaries, as Hyperscan matches bytes.
        object.__setattr__(self, "regex", re.compile(self.pattern, re.ASCII))

    @property
    def _ignore_tails(self) -> tuple[str, ...]:
        """``_public_key`` for ``public_key``: an ignored name ends a longer one at a word
        boundary (api_public_key), not inside a word (escrow_key is no row_key)."""
        return tuple("_" + n for n in self.ignore_names)

    @property
    def explanation(self) -> str:
        """The finding's one-line reason: the entry, never the value."""
        return f"SECRET via catalogue {self.id} ({self.title})"

    def accepts(self, value: str) -> bool:
        """Whether a matched value passes the entry's validator, placeholder filter and
        entropy floor."""
        if self.placeholder and not not_placeholder(value, chosen=self.chosen):
            return False
        if self.entropy is not None and entropy(value) < self.entropy:
            return False
        return self.validator is None or VALIDATORS[self.validator](value)

    def value_of(self, m: re.Match[str]) -> str | None:
        """The reported value of a match: its first ``secret*`` group that took part (a
        pattern may quote a value several ways, and Python wants each group named
        once), else the whole match; None when the variable's name is one of
        ``ignore_names`` (``public_key``, ``csrf_token``: named like a secret, not one),
        or when a ``doc*`` group (the text between a manifest's kind and its data) holds
        a YAML document separator."""
        groups = m.groupdict()
        name = groups.get("name")
        if name is not None:
            words = _words(name)
            if words in self.ignore_names or words.endswith(self._ignore_tails) or any(
                    p in words for p in _NAME_PLACEHOLDERS) or words.startswith(_NAME_NEGATIONS):
                return None
        if any(key.startswith("doc") and value is not None and "\n---" in value
               for key, value in groups.items()):
            return None  # the pattern's two halves are in two YAML documents
        for key, value in groups.items():
            if key.startswith("secret") and value is not None:
                if key == "secret_bt" and any(c.isspace() for c in value):
                    return None  # `etcdctl get /x`: a shell command's output, not a literal
                return value.rstrip(",)") if key == "secret_bare" else value
        return m.group(0)


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
                entropy=item.get("entropy"), placeholder=item.get("placeholder", False),
                ignore_names=tuple(_words(n) for n in item.get("ignore_names", ())),
                chosen=item.get("chosen", False)))
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
