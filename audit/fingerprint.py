"""The one place where raw values are turned into something safe to write.

Fingerprints are a keyed digest (HMAC-SHA-256) of rule, field and value, so
they are stable across runs and line moves but cannot be reversed by hashing a
dictionary of e-mail addresses without the key. Evidence is masked the same way
everywhere: a few characters at each end and a short keyed digest. Text from the
operating system (file names, the command line) may hold bytes that are not UTF-8:
:func:`printable` writes them as ``\\xff`` escapes, the one form every report uses.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any

#: Used when neither the option nor TELEMETRY_AUDIT_KEY sets one. It only
#: separates our digests from plain ones; set your own key to make fingerprints
#: unguessable for values from a small dictionary.
DEFAULT_KEY = "telemetry-audit/v1"
KEY_ENV = "TELEMETRY_AUDIT_KEY"
MASK = "\u2022\u2022\u2022"  # •••


def resolve_key(key: str | None = None) -> bytes:
    """The fingerprint key: explicit, else the environment, else the default."""
    return (key or os.environ.get(KEY_ENV) or DEFAULT_KEY).encode("utf-8")


def keyed_digest(key: bytes, *parts: str, length: int = 32) -> str:
    """Hex HMAC-SHA-256 over the parts, separated so ('ab','c') != ('a','bc')."""
    inner, outer = _pads(key)
    mac = inner.copy()
    mac.update("\x1f".join(parts).encode("utf-8", "surrogatepass"))
    done = outer.copy()
    done.update(mac.digest())
    return done.hexdigest()[:length]


@lru_cache(maxsize=8)
def _pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states after HMAC's inner and outer key pads (RFC 2104): a digest per
    finding then costs two copies, not the key set-up ``hmac.new`` repeats each time."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in key)),
            hashlib.sha256(bytes(b ^ 0x5C for b in key)))


def fingerprint(key: bytes, rule: str, field: str | None, value: str | None) -> str:
    """Stable identity of a finding: rule + field + keyed digest of the value."""
    return keyed_digest(key, rule, field or "", value or "")


def mask(value: object, key: bytes) -> str | None:
    """Masked evidence: ``am•••le#1a2b3c`` keeps at most a third of the text visible."""
    if value is None:
        return None
    text = str(value)
    tag = keyed_digest(key, "evidence", text, length=6)
    n = len(text)
    keep = 2 if n >= 12 else (1 if n >= 6 else 0)
    shown = f"{text[:keep]}{MASK}{text[n - keep :]}" if keep else MASK
    return f"{shown}#{tag}"


def printable(text: str | os.PathLike[str]) -> str:
    """A path (or the command line) as every report writes it: as given, except bytes
    that are not UTF-8, which Python keeps as lone surrogates (``os.listdir`` of a file
    named ``b"\\xff.jsonl"`` gives ``"\\udcff.jsonl"``) and no report could encode:
    they are written as ``\\xff`` escapes (``\\xff.jsonl``)."""
    text = os.fspath(text)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")  # the bytes of the name
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte (Windows)
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


def pseudonym_key(key: bytes) -> str:
    """The 16-character SipHash key of :func:`pseudonym_digests`, derived from the
    fingerprint key: digests of one scan (and its worker processes) agree, and nobody
    without the key can compute one from a dictionary of ids."""
    return keyed_digest(key, "pseudonym", length=16)


def pseudonym_digests(values: Any, key: bytes) -> Any:
    """Keyed 64-bit digests (SipHash-2-4, as numpy uint64) of text values: what the
    cross-record analyses keep of a pseudonym instead of its text, 8 bytes each.
    ``values`` (a pandas Series, hashed straight from its Arrow text, or a sequence of
    str) must hold no missing values; the digest of a text is the same either way."""
    import numpy as np
    import pandas as pd
    from pandas.util import hash_array, hash_pandas_object

    if isinstance(values, pd.Series):
        return hash_pandas_object(values, index=False,
                                  hash_key=pseudonym_key(key)).to_numpy(dtype=np.uint64)
    array = np.asarray(values, dtype=object)
    if not len(array):
        return np.empty(0, dtype=np.uint64)
    return hash_array(array, hash_key=pseudonym_key(key))
