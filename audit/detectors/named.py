"""Identifiers told by the field's name: the detectors a field kind brings (``NAMED``).

A random GUID is no finding on its own: it may be an event id. Under
``ext.device.localId`` or ``data.MachineId`` it is the device's persistent id; an opaque
16-hex value under ``SerialNumber`` is the serial. A field's kind (declared, or told by
its name through a category's ``field_hints``) selects here, per entity, a detector
that also accepts such identifier shapes as a whole value::

    NAMED["machine-id"]["MACHINE_ID"].find("0b6f2a52-1c3d-4e5f-8a7b-9c0d1e2f3a4b")
        -> MACHINE_ID "random GUID (version 4) in a field named like a machine or VM id"

What is never an identifier, whatever the name: booleans, small numbers and counts,
versions, locales, HRESULTs, Unix and Windows times written as numbers, the nil GUID,
values of one or two repeated characters, OEM placeholders, words without digits.
The strict detector of the same entity still runs first, so nothing is lost.

Why: the shapes are too common to flag everywhere (``SerialNumber`` is the context that
makes ``PF3KX7Q2`` a serial), and the field name is what a reviewer reads too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from audit.detectors.accounts import ACCOUNT_ID, XUID
from audit.detectors.base import Detector, Match
from audit.detectors.contact import PHONE, phone_region
from audit.detectors.filters import is_hresult, is_locale, is_opaque_base64, is_version
from audit.detectors.hardware import (
    DEVICE_SERIAL,
    KEY_ALPHABET,
    MACHINE_ID,
    PRODUCT_KEY,
    is_serial_token,
)
from audit.detectors.identifiers import parse_guid

#: Longest whole value judged by shape: identifiers are short.
MAX_ID_LEN = 200
_HEX = re.compile(r"[0-9A-Fa-f]{8,128}")
_PREFIXED = re.compile(r"([A-Za-z]{1,2}):(.{4,198})")
_DOMAIN_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}\\[A-Za-z0-9][A-Za-z0-9._ -]{0,63}")
_KEY_LIKE = re.compile(r"[A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){4}")
_NUMBER = re.compile(r"\d{1,40}")
# Unix time in s, ms, µs and ns, Windows FILETIME and .NET ticks, 2000 to 2040: (digits,
# lowest, highest).
_TIMES = (
    (10, 946_684_800, 2_208_988_800),
    (13, 946_684_800_000, 2_208_988_800_000),
    (16, 946_684_800_000_000, 2_208_988_800_000_000),
    (19, 946_684_800_000_000_000, 2_208_988_800_000_000_000),
    (18, 125_911_584_000_000_000, 138_534_048_000_000_000),
    (18, 630_822_816_000_000_000, 643_445_280_000_000_000),
)

Shape = Callable[[str], "str | None"]


def is_time_number(digits: str) -> bool:
    """A number that reads as a time since 2000 and before 2040 (Unix seconds to
    nanoseconds, Windows FILETIME, .NET ticks): a timestamp, not an id."""
    n = int(digits)
    return any(len(digits) == size and low <= n <= high for size, low, high in _TIMES)


def _varied(value: str, least: int = 4) -> bool:
    return len(set(value.lower()) - {"-", "{", "}"}) >= least


def guid_shape(value: str) -> str | None:
    """Any GUID but the nil GUID and GUIDs of a few repeated digits."""
    guid = parse_guid(value)
    if guid is None or not _varied(guid.hex, 6):
        return None
    if guid.version == 1 and guid.variant == uuid.RFC_4122:
        return "version 1 GUID (it embeds a MAC address and a time)"
    if guid.version == 4 and guid.variant == uuid.RFC_4122:
        return "random GUID (version 4)"
    return "GUID"


def _hex_shape(min_digits: int) -> Shape:
    def shape(value: str) -> str | None:
        if len(value) < min_digits or not _HEX.fullmatch(value) or not _varied(value):
            return None
        if value.isdigit():
            return None  # a decimal number: _number_shape decides
        return f"opaque hex id of {4 * len(value)} bits"

    return shape


def base64_shape(value: str) -> str | None:
    """An opaque base64 token of 12 bytes or more (a thread id's shape: an id here)."""
    return "opaque base64 id" if len(value) >= 16 and is_opaque_base64(value) else None


def _number_shape(min_digits: int, max_digits: int = 40) -> Shape:
    def shape(value: str) -> str | None:
        if not _NUMBER.fullmatch(value) or not min_digits <= len(value) <= max_digits:
            return None
        if not _varied(value) or value in "0123456789" * 4 or is_time_number(value):
            return None
        return f"{len(value)}-digit number"

    return shape


def serial_shape(value: str) -> str | None:
    """Letters and digits of a serial number (6 to 40 characters)."""
    if value.isdigit() or not any(c.isalpha() for c in value):
        return None
    return "serial-number-shaped token" if is_serial_token(value, min_len=6) else None


def prefixed_shape(value: str) -> str | None:
    """A 1DS-style local id: a type prefix (``s:``, ``c:``, ``w:``…) and an opaque id."""
    m = _PREFIXED.fullmatch(value)
    if m is None:
        return None
    rest = m.group(2)
    if guid_shape(rest) or _hex_shape(12)(rest) or _number_shape(10)(rest) \
            or base64_shape(rest):
        return "local id (a type prefix and an opaque id)"
    return None


def domain_user_shape(value: str) -> str | None:
    """A Windows account name, DOMAIN\\user."""
    return "DOMAIN\\user account name" if _DOMAIN_USER.fullmatch(value) else None


def product_key_shape(value: str) -> str | None:
    """A whole product key of any letters, or its last group (a partial product key)."""
    if _KEY_LIKE.fullmatch(value) and _varied(value, 8):
        return "product-key-shaped value"
    v = value.upper()
    if len(v) == 5 and set(v) <= KEY_ALPHABET and _varied(v, 3):
        return "partial product key (its last group)"
    return None


def _not_noise(value: str) -> bool:
    """Whether a value may be an identifier at all (see the module's list)."""
    return bool(value) and len(value) <= MAX_ID_LEN and _varied(value, 3) \
        and value.lower() not in ("true", "false", "null", "none", "unknown") \
        and not (is_version(value) or is_locale(value) or is_hresult(value))


@dataclass(frozen=True, slots=True)
class NamedIdDetector:
    """An entity's detector for fields named after it: the strict detector's matches,
    else the whole value when it has one of ``shapes``."""

    name: str
    entity: str
    label: str  # what the field's name says it holds, e.g. "a machine or VM id"
    shapes: tuple[Shape, ...]
    strict: Detector
    prefilter: str = r"[0-9A-Za-z]"
    #: Opaque ids (a GUID, a hex digest) are what these fields hold: examine them.
    sees_opaque: bool = True

    def find(self, text: str) -> list[Match]:
        """The strict matches, else one match of the whole (trimmed) value."""
        found = self.strict.find(text)
        if found:
            return found
        value = text.strip()
        if not _not_noise(value):
            return []
        for shape in self.shapes:
            what = shape(value)
            if what:
                why = f"{self.entity}: {what} in a field named like {self.label}"
                return [Match(self.entity, value, why, detector=self.name)]
        return []


_GUID_HEX = (guid_shape, _hex_shape(16), base64_shape, prefixed_shape)
_BARE_PHONE = re.compile(r"\+?(\d{7,15})")


@dataclass(frozen=True, slots=True)
class PhoneFieldDetector:
    """PHONE in a field named like a phone number: PHONE's matches, else the whole value
    when it is a bare run of digits that is a valid number (``"PhoneNumber": "4255550123"``),
    but not a time written as a number."""

    name: str = "named-phone"
    entity: str = "PHONE"
    prefilter: str = rf"{PHONE.prefilter}|\d{{7}}"

    def find(self, text: str, region: str | None = None) -> list[Match]:
        """The strict matches, else one match of the whole (trimmed) value."""
        found = PHONE.find(text, region)
        if found:
            return found
        value = text.strip()
        m = _BARE_PHONE.fullmatch(value)
        digits = m.group(1) if m else ""
        if not digits or not _varied(digits) or digits in "0123456789" * 4 \
                or is_time_number(digits):
            return []
        where = phone_region(digits, region)
        if where is None:
            return []
        why = f"PHONE: a valid number for region {where} in a field named like a phone number"
        return [Match(self.entity, value, why, detector=self.name)]


#: Field kind → entity → the detector that judges that entity in fields of that kind.
NAMED: Mapping[str, Mapping[str, Detector]] = MappingProxyType({
    "device-serial": {"DEVICE_SERIAL": NamedIdDetector(
        "named-device-serial", "DEVICE_SERIAL", "a device serial number",
        (guid_shape, _hex_shape(8), serial_shape, _number_shape(8), prefixed_shape),
        DEVICE_SERIAL)},
    "machine-id": {"MACHINE_ID": NamedIdDetector(
        "named-machine-id", "MACHINE_ID", "a machine or VM id",
        (*_GUID_HEX, _number_shape(12)), MACHINE_ID)},
    "account-id": {"ACCOUNT_ID": NamedIdDetector(
        "named-account-id", "ACCOUNT_ID", "a user's account id (UPN, e-mail, SIP, local id)",
        (*_GUID_HEX, domain_user_shape, _number_shape(12)), ACCOUNT_ID)},
    "xbox-user-id": {"XUID": NamedIdDetector(
        "named-xuid", "XUID", "an Xbox user id",
        (_number_shape(15, 17), _hex_shape(16), prefixed_shape), XUID)},
    "product-key": {"PRODUCT_KEY": NamedIdDetector(
        "named-product-key", "PRODUCT_KEY", "a product key",
        (product_key_shape, guid_shape, _hex_shape(16), base64_shape), PRODUCT_KEY)},
    "phone-number": {"PHONE": PhoneFieldDetector()},
})
