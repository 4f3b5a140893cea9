"""Identifier shapes: GUIDs, hex digests and base64 digests.

Examples::

    classify_identifier("E296D735-4F36-4E18-7C3B-52E1A02A0164")
        -> GUID-shaped, variant "ncs" (not RFC 4122): consistent with a hash
    is_hashed_id("amosmarble")      -> (False, "plain text ...")
    random_guid_problem("5E872200-F546-4CCD-8F23-AF5F507AA2DD") -> None (random v4)
    random_guid_problem("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
        -> "version 1 GUID: embeds a MAC address and a time"

Why: the practices say a census UserID is hashed (so it cannot be linked to
a user) and a DeviceID is a randomly generated GUID. These helpers tell a
digest-shaped or random value from a name, e-mail, MAC or serial number. A
digest of a *known* identity is still linkable; that is `known.py`'s job.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from audit.detectors.base import hex_digit_values
from audit.detectors.filters import b64decode_loose, printable_ratio
from audit.lazy import lazy

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")

_GUID = re.compile(
    r"\{?([0-9A-Fa-f]{8})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{12})\}?"
)
_HEX = re.compile(r"[0-9A-Fa-f]{32,128}")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{22,700}={0,2}")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?:[:-]?[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2}")
_SERIAL = re.compile(r"[A-Za-z0-9-]{5,24}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}\.[A-Za-z]{2,24}")
_SIP = re.compile(r"(?i)(?:sips?|tel):\S{1,256}")
_DIGEST_BITS = {32: 128, 40: 160, 64: 256, 128: 512}
#: Whole values, for RE2 (``$`` is the end of the text only).
_PLAIN_GUID = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_RANDOM_GUID = (r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}"
                r"-[0-9A-Fa-f]{12}$")
_NIL = "00000000-0000-0000-0000-000000000000"
#: A version 4 GUID with fewer distinct hex digits was not randomly generated.
MIN_DISTINCT_DIGITS = 6

_GREGORIAN_OFFSET = datetime(1582, 10, 15, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdInfo:
    """What an identifier value looks like (shape only, no knowledge of identities)."""

    value: str
    guid_shaped: bool = False
    guid_version: int | None = None
    guid_variant: str | None = None  # "rfc4122", "ncs", "microsoft", "future"
    rfc4122: bool = False
    nil: bool = False
    hex_bits: int | None = None  # hex digest of 128/160/256/512 bits
    base64_bits: int | None = None  # base64 of >= 128 bits that is not readable text

    @property
    def digest_like(self) -> bool:
        """GUID-shaped, or a hex/base64 string of >= 128 bits."""
        return self.guid_shaped or self.hex_bits is not None or self.base64_bits is not None


_VARIANTS = {
    uuid.RFC_4122: "rfc4122",
    uuid.RESERVED_NCS: "ncs",
    uuid.RESERVED_MICROSOFT: "microsoft",
    uuid.RESERVED_FUTURE: "future",
}


def parse_guid(value: str) -> uuid.UUID | None:
    """The UUID for a 8-4-4-4-12 GUID (braces allowed), else None."""
    m = _GUID.fullmatch(value.strip())
    return uuid.UUID("-".join(m.groups())) if m else None


def classify_identifier(value: str) -> IdInfo:
    """Describe the shape of `value`: GUID version/variant, hex or base64 digest size."""
    v = value.strip()
    guid = parse_guid(v)
    if guid is not None:
        variant = _VARIANTS.get(guid.variant, "future")
        rfc = variant == "rfc4122"
        return IdInfo(
            value=value,
            guid_shaped=True,
            guid_version=guid.version if rfc else None,
            guid_variant=variant,
            rfc4122=rfc,
            nil=guid.int == 0,
            hex_bits=128,
        )
    if _HEX.fullmatch(v) and len(v) in _DIGEST_BITS:
        return IdInfo(value=value, hex_bits=_DIGEST_BITS[len(v)])
    if _B64.fullmatch(v):
        data = b64decode_loose(v)
        core = v.rstrip("=")
        if data is None and len(core) % 4 == 1:  # one stray character, as in the practices
            data = b64decode_loose(core[:-1])
        if data is not None and len(data) >= 16 and printable_ratio(data) < 0.9:
            return IdInfo(value=value, base64_bits=8 * len(data))
    return IdInfo(value=value)


def is_hashed_id(value: str) -> tuple[bool, str]:
    """Whether a user id is consistent with a one-way hash (or random pseudonym), and why.

    Hashed: a GUID-shaped value or a hex/base64 digest of >= 128 bits. A GUID
    that is not RFC 4122 (e.g. the practices' ``E296D735-…-7C3B-…``) is a
    hash shaped as a GUID; a version 3/5 GUID is a name-based hash; a v4 GUID
    is a random pseudonym. Names, e-mails, SIP URIs and user names are not.
    """
    v = value.strip()
    if not v:
        return False, "empty value"
    info = classify_identifier(v)
    if info.guid_shaped:
        if info.nil:
            return False, "nil GUID: identical for every user"
        if not info.rfc4122:
            return True, (
                f"GUID-shaped 128-bit value with {info.guid_variant} variant bits, "
                "not an RFC 4122 GUID: consistent with a hash"
            )
        ver = info.guid_version
        if ver in (3, 5):
            algo = "MD5" if ver == 3 else "SHA-1"
            return True, f"name-based GUID (version {ver}, {algo}): a hash of a name"
        if ver == 4:
            return True, "random GUID (version 4): consistent with a random pseudonym"
        if ver in (1, 2, 6):
            guid = parse_guid(v)
            if guid is not None and not _plausible_time(guid):
                return True, (
                    f"GUID-shaped 128-bit value whose version {ver} bits hold no plausible "
                    "time: consistent with a hash"
                )
            return False, f"version {ver} GUID: embeds a MAC address and a time, not a hash"
        return True, f"GUID version {ver}: opaque 128-bit value, consistent with a pseudonym"
    if info.hex_bits is not None:
        return True, f"hex digest of {info.hex_bits} bits"
    if info.base64_bits is not None:
        return True, f"base64 of {info.base64_bits} bits that is not readable text"
    if _SIP.fullmatch(v):
        return False, "a SIP/tel URI"
    if _EMAIL.fullmatch(v):
        return False, "an e-mail address"
    if any(c.isspace() for c in v):
        return False, "contains spaces: a name or free text"
    if _HEX.fullmatch(v) or re.fullmatch(r"[0-9A-Fa-f-]{1,200}", v):
        return False, "hex string shorter than or not shaped as a 128-bit digest"
    return False, "plain text, not a GUID or a digest of >= 128 bits"


def hashed_id_verdicts(values: list[str]) -> list[tuple[bool, str]]:
    """:func:`is_hashed_id` of each value, classifying one value per GUID shape.

    For a plain GUID (8-4-4-4-12 hex digits, no braces or spaces) the verdict depends
    only on its version and variant digits and whether it is nil, except for a
    time-based RFC 4122 GUID (version 1, 2 or 6), whose time is read value by value.
    """
    plain = _plain_guids(values)
    by_shape: dict[tuple[str, str, bool], tuple[bool, str]] = {}
    out = []
    for value, is_plain in zip(values, plain, strict=True):
        version, variant = value[14:15], value[19:20].lower()
        if not is_plain or (variant in "89ab" and version in "126"):
            out.append(is_hashed_id(value))
            continue
        shape = (version.lower(), variant, value == _NIL)
        verdict = by_shape.get(shape)
        if verdict is None:
            verdict = by_shape[shape] = is_hashed_id(value)
        out.append(verdict)
    return out


def random_guid_problems(values: list[str]) -> list[str | None]:
    """:func:`random_guid_problem` of each value. A plain random GUID (version 4 and
    RFC 4122 variant digits, no braces or spaces) with enough distinct digits,
    the usual device id, has none: it is recognised without parsing it."""
    random = _plain_guids(values, _RANDOM_GUID)
    return [None if is_random and len(set(value.lower()) - {"-"}) >= MIN_DISTINCT_DIGITS
            else random_guid_problem(value)
            for value, is_random in zip(values, random, strict=True)]


_DASHES = [8, 13, 18, 23]
_DIGITS = [k for k in range(36) if k not in _DASHES]


def random_guids(values: np.ndarray) -> np.ndarray:
    """Which values :func:`random_guid_problems` finds nothing wrong with as a plain random
    GUID (version 4, RFC 4122 variant, enough distinct digits), decided by numpy over
    their bytes: a chunk's device ids need no Python per value. False says nothing."""
    fine = np.zeros(len(values), dtype=bool)
    at = np.flatnonzero(np.fromiter(map(len, values), dtype=np.int64, count=len(values)) == 36)
    texts = values[at].tolist()
    at = at[np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))]
    if not len(at):
        return fine
    raw = "".join(values[at].tolist()).encode("ascii")
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(len(at), 36)
    digits = hex_digit_values()[chars[:, _DIGITS]]
    ok = (chars[:, _DASHES] == ord("-")).all(axis=1) & (digits < 16).all(axis=1)
    ok &= chars[:, 14] == ord("4")
    ok &= np.isin(chars[:, 19], np.frombuffer(b"89abAB", dtype=np.uint8))
    seen = np.bitwise_or.reduce(np.left_shift(1, np.minimum(digits, 15).astype(np.int32)),
                                axis=1)
    distinct = np.zeros(len(at), dtype=np.int64)
    for bit in range(16):
        distinct += (seen >> bit) & 1
    fine[at] = ok & (distinct >= MIN_DISTINCT_DIGITS)
    return fine


def _plain_guids(values: list[str], pattern: str = _PLAIN_GUID) -> list[bool]:
    """Whether each value is wholly a GUID of ``pattern``: one RE2 pass over them all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not values:
        return []
    matched = pc.match_substring_regex(pa.array(values, type=pa.large_string()), pattern)
    return pc.fill_null(matched, False).to_pylist()


def _plausible_time(guid: uuid.UUID) -> bool:
    """Whether a time-based GUID holds a time a clock could have given (1990 to next year).

    One digest in 16 of those with RFC 4122 variant bits reads as version 1, 2 or 6;
    its "time" is random (1582 to 5236), while a real time-based GUID's is recent.
    Version 2 (DCE security) is not used in practice, so it is never plausible.
    """
    if guid.version == 2:
        return False
    if guid.version == 6:  # the same 60-bit time, most significant bits first
        h = guid.hex
        ticks = int(h[0:12] + h[13:16], 16)
    else:
        ticks = guid.time
    when = _GREGORIAN_OFFSET + timedelta(microseconds=ticks // 10)
    now = datetime.now(timezone.utc)
    return datetime(1990, 1, 1, tzinfo=timezone.utc) <= when <= now + timedelta(days=366)


def guid_v1_details(value: str) -> tuple[str, datetime] | None:
    """(node as aa:bb:cc:dd:ee:ff, timestamp) embedded in a version 1 GUID, else None."""
    guid = parse_guid(value)
    if guid is None or guid.variant != uuid.RFC_4122 or guid.version != 1:
        return None
    node = f"{guid.node:012x}"
    mac = ":".join(node[i : i + 2] for i in range(0, 12, 2))
    when = _GREGORIAN_OFFSET + timedelta(microseconds=guid.time // 10)
    return mac, when


def random_guid_problem(value: str) -> str | None:
    """None for a random (RFC 4122 version 4) GUID, else why it is not one.

    The reason never contains the value itself (nor the MAC address a
    version 1 GUID embeds).
    """
    v = value.strip()
    guid = parse_guid(v)
    if guid is None:
        if _MAC.fullmatch(v):
            return "not a GUID: looks like a MAC address"
        if _HEX.fullmatch(v) and len(v) == 32:
            return "not a GUID: 32 hex digits without GUID formatting"
        if _SERIAL.fullmatch(v) and any(c.isdigit() for c in v) and any(c.isalpha() for c in v):
            return "not a GUID: looks like a serial number"
        if v.isdigit():
            return "not a GUID: a number (serial or counter)"
        return "not a GUID"
    if guid.int == 0:
        return "nil GUID"
    if guid.variant != uuid.RFC_4122:
        return f"not an RFC 4122 GUID ({_VARIANTS.get(guid.variant, 'unknown')} variant bits)"
    if guid.version == 1:
        multicast = (guid.node >> 40) & 1
        if multicast:
            return "version 1 GUID: embeds a time and a (random, multicast-flagged) node id"
        return "version 1 GUID: embeds a MAC address and a time"
    if guid.version != 4:
        return f"GUID version {guid.version}, not random (4)"
    hexdigits = guid.hex
    if len(set(hexdigits)) < MIN_DISTINCT_DIGITS:
        return "version 4 GUID with too few distinct digits: not randomly generated"
    return None
