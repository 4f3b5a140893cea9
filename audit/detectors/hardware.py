"""Hardware and installation identifiers: DEVICE_SERIAL, PRODUCT_KEY, PRODUCT_ID,
MACHINE_ID and GUID_V1.

Examples flagged by shape alone::

    DEVICE_SERIAL  "SerialNumber=PF3KX7Q2", "bios serial: 5CG2048XQZ"  (a labelled serial)
    PRODUCT_KEY    "7QTWD-KXJ4M-HG3BV-P9RFC-2YT6K"  (five groups of five, key alphabet)
    PRODUCT_ID     "00331-10000-00001-AA412", "00426-OEM-8992662-00017"
    MACHINE_ID     "s:3F2504E0-4F89-41D3-9A0C-0305E82C3301"  (a 1DS SQM machine id)
    GUID_V1        "c9f1e6a0-1d2e-11ee-9b3a-0a1b2c3d4e5f"  (anywhere in the text)

Not flagged by shape alone: a bare serial-like token (``C02XK1JHJG5J`` is as likely a
build tag as a serial), a version such as ``16.0.4483.1000``, a random (version 4)
GUID, OEM placeholders (``To be filled by O.E.M.``, ``0123456789``), a key-shaped
string of one repeated group, a version 1 GUID with a multicast (random) node or a
time before 2005. Under a field whose name says what it holds (``SerialNumber``,
``MachineId``), the weaker shapes count too: see :mod:`audit.detectors.named`.

Why: a serial number, product key or product id, a machine id and the MAC address a
version 1 GUID embeds each single out one device, and through it its user; census
data may carry none of them. Explanations never contain the value, nor the MAC.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from audit.detectors.base import GUID_TEXT, MAX_VALUE_LEN, Match, PatternDetector
from audit.detectors.filters import is_hresult, is_locale, is_version
from audit.detectors.identifiers import guid_v1_details

#: Characters of a Windows product key (no vowels but for the N of newer keys, no 0, 1, 5).
KEY_ALPHABET = frozenset("BCDFGHJKMNPQRTVWXY2346789")
#: A product key has about 15 distinct characters; a placeholder has one or two.
KEY_MIN_DISTINCT = 8
#: Version 1 GUIDs older than this are constants (interface, class and namespace ids
#: that embed their author's machine), not ids a client generated.
V1_SINCE = datetime(2005, 1, 1, tzinfo=timezone.utc)
#: Values OEMs leave in the serial number field, lower-cased.
SERIAL_PLACEHOLDERS = frozenset({
    "default", "default string", "none", "null", "n/a", "na", "unknown", "not specified",
    "not applicable", "not available", "to be filled by o.e.m.", "system serial number",
    "chassis serial number", "serial number", "serialnumber", "invalid", "empty", "oem",
    "0", "0123456789", "1234567890", "123456789", "01234567", "12345678", "xxxxxxxx",
})
_ASCENDING = "0123456789" * 4


def is_serial_token(value: str, min_len: int = 5) -> bool:
    """Whether `value` could be a serial number: letters and digits (dashes inside),
    at least one digit, four distinct characters, and no placeholder, version, locale
    or HRESULT."""
    v = value.strip()
    if not min_len <= len(v) <= 40 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", v):
        return False
    if v.lower() in SERIAL_PLACEHOLDERS or v.endswith("-") or v.count("-") > 3:
        return False
    if not any(c.isdigit() for c in v) or len(set(v.lower()) - {"-"}) < 4:
        return False
    if v.isdigit() and v in _ASCENDING:
        return False
    return not (is_version(v) or is_locale(v) or is_hresult(v))


# A serial number labelled as one: "SerialNumber=…", "bios serial: …", "S/N …", "service tag …".
_SERIAL_LABEL = (
    r"(?i:(?:system|bios|board|baseboard|chassis|device|hardware|hw|oem|disk|drive|machine)?"
    r"[ _.-]?(?:serial(?:[ _.-]?(?:number|num|no|nr))?|s/n|service[ _.-]?tag))"
)
_SERIAL_PATTERN = (
    rf"(?<![A-Za-z0-9]){_SERIAL_LABEL}"
    r"(?:[\"']?[ \t]{0,3}[:=#][ \t]{0,3}[\"']?|[ \t]{1,3})"  # never glued to the label
    r"([A-Za-z0-9][A-Za-z0-9-]{3,39})(?![A-Za-z0-9-])"
)

DEVICE_SERIAL = PatternDetector(
    name="device-serial",
    entity="DEVICE_SERIAL",
    pattern=_SERIAL_PATTERN,
    prefilter=r"(?i:serial|s/n|service.?tag)",
    explanation="DEVICE_SERIAL via a serial-number label and a serial-shaped value",
    validate=is_serial_token,
    group=1,
)


def is_product_key(value: str) -> bool:
    """Five groups of five characters of the product key alphabet, letters and digits
    mixed, with enough distinct characters to be a key and not a placeholder."""
    v = value.upper()
    groups = v.split("-")
    if len(groups) != 5 or any(len(g) != 5 for g in groups):
        return False
    chars = v.replace("-", "")
    if not set(chars) <= KEY_ALPHABET or len(set(chars)) < KEY_MIN_DISTINCT:
        return False
    return any(c.isdigit() for c in chars) and any(c.isalpha() for c in chars)


PRODUCT_KEY = PatternDetector(
    name="product-key",
    entity="PRODUCT_KEY",
    pattern=r"(?<![A-Za-z0-9-])[A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){4}(?![A-Za-z0-9-])",
    prefilter=r"[A-Za-z0-9]{5}-[A-Za-z0-9]{5}-[A-Za-z0-9]{5}-[A-Za-z0-9]{5}-[A-Za-z0-9]{5}",
    explanation="PRODUCT_KEY via pattern (five groups of five of the product key alphabet)",
    validate=is_product_key,
)

# Windows product ids: 5-5-5-5 with two letters in the last group (10 and later), the
# OEM form 5-OEM-7-5 and the older all-digit 5-3-7-5.
_PRODUCT_ID = (
    r"(?<![A-Za-z0-9-])(?:\d{5}-\d{5}-\d{5}-[A-Za-z]{2}\d{3}"
    r"|\d{5}-(?i:oem)-\d{7}-\d{5}|\d{5}-\d{3}-\d{7}-\d{5})(?![A-Za-z0-9-])"
)

PRODUCT_ID = PatternDetector(
    name="product-id",
    entity="PRODUCT_ID",
    pattern=_PRODUCT_ID,
    prefilter=r"\d{5}-(?:\d{5}-\d{5}-[A-Za-z]{2}\d{3}|[Oo][Ee][Mm]-\d{7}-|\d{3}-\d{7}-\d{5})",
    explanation="PRODUCT_ID via pattern (a Windows product id: identifies the licence)",
)

_GUID = GUID_TEXT

MACHINE_ID = PatternDetector(
    name="machine-id",
    entity="MACHINE_ID",
    # The 1DS device local id of Windows: "s:" and the SQM machine id.
    pattern=rf"(?<![A-Za-z0-9])s:\{{?({_GUID})\}}?(?![0-9A-Fa-f-])",
    prefilter=rf"s:\{{?{_GUID}",
    explanation="MACHINE_ID via pattern (an s: device local id: the Windows SQM machine id)",
    group=1,
)


def is_mac_guid(value: str) -> bool:
    """A version 1 GUID made on a machine's network card since `V1_SINCE`: its node is a
    unicast, non-zero MAC address and its time is plausible."""
    details = guid_v1_details(value)
    if details is None:
        return False
    mac, when = details
    first = int(mac[:2], 16)
    if first & 1 or mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        return False  # multicast bit: a random node id, not a network card
    return V1_SINCE <= when <= datetime.now(timezone.utc) + timedelta(days=366)


class GuidV1Detector:
    """GUID_V1: a version 1 GUID anywhere in a value, whole values (opaque ids) included."""

    name = "guid-v1"
    entity = "GUID_V1"
    prefilter = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-1[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]"
    #: Opaque ids are examined too: a whole-value GUID is exactly where these hide.
    sees_opaque = True
    _regex = re.compile(
        r"(?<![0-9A-Za-z-])\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-1[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}"
        r"-[0-9A-Fa-f]{12})\}?(?![0-9A-Za-z-])"
    )

    def find(self, text: str) -> list[Match]:
        """Version 1 GUIDs whose node is a MAC address (the MAC is never reported)."""
        return [
            Match(self.entity, m.group(1),
                  "GUID_V1: a version 1 GUID embeds the MAC address of the machine that "
                  "made it and the time it was made", detector=self.name)
            for m in self._regex.finditer(text[:MAX_VALUE_LEN]) if is_mac_guid(m.group(1))
        ]


GUID_V1 = GuidV1Detector()
