"""Named false-positive filters: values that look like an entity but are not.

Examples of what each filter recognises (whole value):

- ``version``: ``10.0.2.15``, ``16.0.4483.1000``, ``8.3`` (OSVersion is not an IP)
- ``hresult``: ``-2147467259``, ``0x80004005``, ``2147942405`` (ErrorCode is not a phone)
- ``locale``: ``EN-US``, ``en-gb``, ``zh-Hans-CN`` (UserLanguage is not a name)
- ``opaque_base64``: ``AdDO8hsJqilU93hQHC3OZaPR2saEA==`` (a thread id is not a secret)

Why: the same characters mean different things in different fields, so a
caller that knows the field's kind passes `exclude=("version",)` to `detect()`
and the filters drop matches that are really versions, error codes, etc.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

_VERSION = re.compile(r"[vV]?\d{1,5}(?:\.\d{1,6}){1,4}")
_HRESULT_HEX = re.compile(r"0[xX][8-9A-Fa-f][0-9A-Fa-f]{7}")
_DECIMAL = re.compile(r"[+-]?\d{1,10}")
_LOCALE = re.compile(
    r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?(?:[-_](?:[A-Za-z]{2}|\d{3}))?(?:[-_][A-Za-z0-9]{5,8}){0,2}"
)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,1024}={0,2}")


def is_version(value: str) -> bool:
    """A dotted numeric version such as ``10.0.2.15`` or ``v16.0.4483.1000``."""
    return _VERSION.fullmatch(value.strip()) is not None


def is_hresult(value: str) -> bool:
    """A Windows HRESULT failure code: 0x8xxxxxxx, or its signed/unsigned decimal."""
    v = value.strip()
    if _HRESULT_HEX.fullmatch(v):
        return True
    if _DECIMAL.fullmatch(v):
        n = int(v)
        return -(2**31) <= n < -(2**16) or 2**31 <= n < 2**32
    return False


def is_locale(value: str) -> bool:
    """A BCP 47 / POSIX locale tag such as ``EN-US``, ``en_gb`` or ``zh-Hans-CN``."""
    v = value.strip()
    return ("-" in v or "_" in v or len(v) == 2) and _LOCALE.fullmatch(v) is not None


def printable_ratio(data: bytes) -> float:
    """Share of printable characters once decoded as UTF-8 (0.0 if not UTF-8)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return 0.0
    if not text:
        return 0.0
    good = sum(1 for c in text if c.isprintable() or c in "\r\n\t")
    return good / len(text)


def b64decode_loose(value: str) -> bytes | None:
    """Decode standard or URL-safe base64, with or without padding; None if invalid."""
    v = value.strip().rstrip("=")
    if not v or len(v) % 4 == 1:
        return None
    v = v + "=" * (-len(v) % 4)
    try:
        if "-" in v or "_" in v:
            return base64.urlsafe_b64decode(v)
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_opaque_base64(value: str) -> bool:
    """A base64 token of >= 12 bytes that does not decode to readable text (an id)."""
    v = value.strip()
    if _BASE64.fullmatch(v) is None:
        return False
    if not (any(c.isupper() for c in v) and any(c.islower() for c in v)):
        return False
    data = b64decode_loose(v)
    if data is None:
        # Odd-length ids (like the practices' ConversationThreadID) are still opaque.
        core = v.rstrip("=")
        data = b64decode_loose(core[:-1]) if len(core) % 4 == 1 else None
    return data is not None and len(data) >= 12 and printable_ratio(data) < 0.9


FILTERS: dict[str, Callable[[str], bool]] = {
    "version": is_version,
    "hresult": is_hresult,
    "locale": is_locale,
    "opaque_base64": is_opaque_base64,
}


def excluded_by(value: str, names: tuple[str, ...] | list[str]) -> str | None:
    """Name of the first filter in `names` that recognises `value`, else None."""
    for name in names:
        if FILTERS[name](value):
            return name
    return None
