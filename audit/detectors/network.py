"""Network addresses: IP_ADDRESS (IPv4 and IPv6) and MAC_ADDRESS.

Examples flagged::

    IP_ADDRESS   "client 203.0.113.7 timed out", "10.1.2.3", "2001:db8::8a2e:370:7334"
    MAC_ADDRESS  "00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "001a.2b3c.4d5e"

Public and private addresses both count (a private address still narrows
down a user). Candidates are validated with `ipaddress`. Context matters: an
OSVersion of ``10.0.2.15`` is a valid IPv4 address too, so callers pass
``exclude=("version",)`` for version fields. The all-zero and broadcast MAC
addresses are not flagged (they identify nothing).
"""

from __future__ import annotations

import ipaddress
import re

from audit.detectors.base import MAX_VALUE_LEN, Match, PatternDetector

_V4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_V6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f.]{0,15}){2,8}(?:%\w{1,16})?(?![\w:])")
#: Colon-separated groups of exactly two hex digits: a MAC or EUI-64 written like one,
#: not an IPv6 address (no one writes every IPv6 group as two digits).
_MAC_LIKE = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5,7}")


class IpDetector:
    """IP_ADDRESS: dotted quads and colon-hex strings that `ipaddress` accepts."""

    name = "ip-address"
    entity = "IP_ADDRESS"
    prefilter = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:"

    def find(self, text: str) -> list[Match]:
        """IPv4 then IPv6 candidates, each validated with `ipaddress`."""
        text = text[:MAX_VALUE_LEN]
        out: list[Match] = []
        for m in _V4.finditer(text):
            try:
                addr = ipaddress.IPv4Address(m.group(0))
            except ValueError:
                continue
            out.append(self._match(m.group(0), addr))
        if ":" in text:
            for m in _V6.finditer(text):
                # a full stop ending the sentence is not part of the address
                cand = m.group(0).rstrip(".")
                if cand.count(":") < 2 or not any(c.isalnum() for c in cand):
                    continue
                if _MAC_LIKE.fullmatch(cand):
                    continue
                try:
                    addr6 = ipaddress.IPv6Address(cand)
                except ValueError:
                    continue
                out.append(self._match(cand, addr6))
        return out

    def _match(self, value: str, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Match:
        scope = "private" if addr.is_private else "public"
        return Match(
            self.entity,
            value,
            f"IP_ADDRESS via pattern; valid IPv{addr.version} ({scope}) per ipaddress",
            detector=self.name,
        )


IP_ADDRESS = IpDetector()

_HEX2 = "[0-9A-Fa-f]{2}"
_MAC = (
    rf"(?<![\w:-]){_HEX2}(?::{_HEX2}){{5}}(?![\w:-])"
    rf"|(?<![\w:-]){_HEX2}(?:-{_HEX2}){{5}}(?![\w:-])"
    r"|(?<![\w.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])"
)


def _valid_mac(value: str) -> bool:
    digits = re.sub(r"[^0-9A-Fa-f]", "", value).lower()
    return digits not in ("000000000000", "ffffffffffff")


MAC_ADDRESS = PatternDetector(
    name="mac-address",
    entity="MAC_ADDRESS",
    pattern=_MAC,
    prefilter=(
        r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}"
        r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
    ),
    explanation="MAC_ADDRESS via pattern (6 hex octets); not all-zero or broadcast",
    validate=_valid_mac,
)
