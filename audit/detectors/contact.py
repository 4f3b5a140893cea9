"""Contact details: EMAIL, SIP_URI and PHONE.

Examples flagged::

    EMAIL    "sent by amos.marble@contoso.com"      (domain must end in a known TLD)
    SIP_URI  "sip:amos.marble@contoso.com", "tel:+14255550123"
    PHONE    "+14255550123", "(425) 555-0123", "+44 20 7946 0958"

Not flagged: ``-2147467259`` or ``0x80004005`` (HRESULTs), counts such as
``12``, version strings, bare digit runs without a ``+`` or phone formatting.
Why: phone numbers are validated with `phonenumbers` (real numbering plans),
so an error code or a timestamp does not become a phone number.
"""

from __future__ import annotations

import re

import phonenumbers

from audit.detectors._domains import is_domain
from audit.detectors.base import MAX_VALUE_LEN, Match, PatternDetector
from audit.detectors.filters import is_hresult, is_version

_EMAIL = (
    r"(?<![\w.%+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@"
    r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}[A-Za-z0-9]"
)


def _valid_email(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    return bool(local) and ".." not in local and is_domain(domain.lower())


EMAIL = PatternDetector(
    name="email",
    entity="EMAIL",
    pattern=_EMAIL,
    prefilter=r"[A-Za-z0-9]@[A-Za-z0-9]",
    explanation="EMAIL via pattern; domain validated",
    validate=_valid_email,
)

_SIP = r"(?i:\b(?:sips?|tel):)[^\s\"'<>;,()\[\]{}]{3,256}"


def _valid_sip(value: str) -> bool:
    scheme, _, rest = value.partition(":")
    if scheme.lower() == "tel":
        return sum(c.isdigit() for c in rest) >= 5
    host = rest.rpartition("@")[2].split(":")[0]
    return is_domain(host.lower(), allow_file_like=True) or _is_ip(host)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


SIP_URI = PatternDetector(
    name="sip-uri",
    entity="SIP_URI",
    pattern=_SIP,
    prefilter=r"(?i:(?:sips?|tel):)",
    explanation="SIP_URI via pattern (sip:/sips:/tel: scheme); host validated",
    validate=_valid_sip,
)


class PhoneDetector:
    """PHONE: formatted or international numbers accepted by `phonenumbers`.

    A candidate must start with ``+`` / ``00`` or carry phone formatting
    (parentheses, spaces, dashes or dots between digit groups); bare digit
    runs are too often counts, ids or timestamps.
    """

    name = "phone"
    entity = "PHONE"
    # Explicit whitespace class instead of \s, so that pandas runs it in RE2.
    prefilter = r"\+\d|\(\d{1,4}\)|\d[ \t\r\n\f\v.-]{1,2}\d{2,4}[ \t\r\n\f\v.-]\d{2,4}"
    _regex = re.compile(r"(?<![\w.+/-])(?:\+|\b00)?\(?\d[\d\s().-]{5,24}\d(?![\w:])")
    _date = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{4}")
    _dotted = re.compile(r"\d{3}\.\d{3}\.\d{4}")

    def find(self, text: str) -> list[Match]:
        """Candidates by regex, kept when `phonenumbers` says the number is valid."""
        out: list[Match] = []
        for m in self._regex.finditer(text[:MAX_VALUE_LEN]):
            cand = m.group(0).strip()
            region = self._check(cand)
            if region:
                out.append(
                    Match(self.entity, cand, f"PHONE via pattern; valid number for region "
                          f"{region} (phonenumbers)", detector=self.name)
                )
        return out

    def _check(self, cand: str) -> str | None:
        digits = sum(c.isdigit() for c in cand)
        if digits < 7 or digits > 15 or is_hresult(cand):
            return None
        international = cand.startswith(("+", "00"))
        formatted = any(c in cand for c in " ()-.")
        if not (international or formatted):
            return None
        if "." in cand and not international and not self._dotted.fullmatch(cand):
            return None
        if is_version(cand) and not self._dotted.fullmatch(cand):
            return None
        if cand.count("(") != cand.count(")") or self._date.search(cand):
            return None
        if cand.startswith("00"):
            cand = "+" + cand[2:]
        try:
            num = phonenumbers.parse(cand, None if international else "US")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(num):
            return None
        return phonenumbers.region_code_for_number(num) or "unknown"


PHONE = PhoneDetector()
