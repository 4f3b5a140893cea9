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
from functools import lru_cache

import phonenumbers

from audit.detectors._domains import is_domain
from audit.detectors.base import MAX_VALUE_LEN, Match, PatternDetector
from audit.detectors.filters import is_hresult, is_version
from audit.detectors.national import iban_spans, inside

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


#: Regions tried, in order, for a number written without a country code (US first: the
#: most common national format in the data, and what a lone ``(425) 555-0123`` means).
#: The others only for a number that starts with their trunk prefix 0, so that ten
#: digits in groups are not read as, say, an Indian mobile number. The event's locale,
#: when the caller knows it (:func:`region_of_locale`), is tried first, for any number.
REGIONS: tuple[str, ...] = ("US", "GB", "FR", "IN", "AU", "JP", "BR", "PH", "TR")
#: Regions tried for a number written in their own grouping, whatever the locale:
#: Turkey's 3-3-2-2 without the trunk 0, ``532 123 45 67`` (one separator, space or
#: dash; dotted, ``532.123.45.67``, it reads as a version), Israel's ``0X-XXXXXXX``,
#: China's mobile ``138 1234 5678``.
_BY_SHAPE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[2-5]\d{2}([ -])\d{3}\1\d{2}\1\d{2}"), "TR"),
    # Israel's area code and a dash: 09-7625400, 052-123-4567 (not "046 123 987")
    (re.compile(r"0[2-9]\d?-\d{3}-?\d{4}"), "IL"),
    # a Chinese mobile number in its 3-4-4 grouping, 138 1234 5678 (bare, it needs the
    # event's locale and a phone key)
    (re.compile(r"1[3-9]\d([ -])\d{4}\1\d{4}"), "CN"),
)
_VALID = phonenumbers.Leniency.VALID
_MOBILE = frozenset({phonenumbers.PhoneNumberType.MOBILE,
                     phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})
#: National candidates looked up per value: each costs a matcher run per region, so a
#: crafted value packed with digit groups stops costing more after this many.
NATIONAL_TRIES = 64
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?[-_]([A-Za-z]{2})(?![A-Za-z0-9])")


@lru_cache(maxsize=1024)
def region_of_locale(locale: str) -> str | None:
    """The region of a locale tag (``de-DE`` → ``DE``, ``zh-Hans-CN`` → ``CN``) when
    `phonenumbers` knows it; a bare language (``de``) names no region."""
    m = _LOCALE.match(locale.strip())
    region = m.group(1).upper() if m else None
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


class PhoneDetector:
    """PHONE: formatted or international numbers accepted by `phonenumbers`.

    A candidate must start with ``+`` / ``00`` or carry phone formatting
    (parentheses, spaces, dashes or dots between digit groups); bare digit
    runs are too often counts, ids or timestamps, so the only bare runs taken are a
    trunk 0 and nine or ten digits that is a valid mobile number of a region tried, and
    a run given as the value of a key that names a phone (``"mobile": "5321234567"``,
    ``phone=14255550123``).
    `find` takes the event's region (from its locale) as a hint when the caller has one.
    """

    name = "phone"
    entity = "PHONE"
    # Explicit whitespace class instead of \s, so that pandas runs it in RE2.
    prefilter = (
        r"\+\d|\(\d{1,4}\)|\d[ \t\r\n\f\v.-]{1,2}\d{2,4}[ \t\r\n\f\v.-]\d{2,4}"
        r"|0\d{1,4}[ -]\d{5,8}|\b0[1-9]\d{8,9}\b"
        r"|(?i:phone|tel|mobile|cell|msisdn|handy|cep)[^0-9]{0,6}[0-9]{7}"
    )
    # not glued to a word, nor to "-<word>" after it (a GUID's first groups); after a "/"
    # only with a "+" (a URL path segment: /users/+14255550123/photo)
    _regex = re.compile(
        r"(?:(?<![\w.+/-])|(?<=/)(?=\+))(?:\+|\b00)?\(?\d[\d\s().-]{5,24}\d(?![\w:]|-\w)"
    )
    _date = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{4}")
    _dotted = re.compile(r"\d{3}\.\d{3}\.\d{4}")
    _bare = re.compile(r"0[1-9]\d{8,9}")
    _keyed = re.compile(
        r"(?i:\b(?:phone|phone_?number|tel|telephone|mobile|mobile_?number|cell|cellphone"
        r"|msisdn|handy|telefon|tel[eé]fono|t[eé]l[eé]phone|cep|cep_?no))"
        r"[\"']?[ \t]{0,2}[:=][ \t]{0,2}[\"']?(\d{7,15})(?![\w.-])"
    )

    def find(self, text: str, region: str | None = None) -> list[Match]:
        """Candidates by regex, kept when `phonenumbers` says the number is valid (for
        `region`, a hint from the event's locale, first)."""
        out: list[Match] = []
        text = text[:MAX_VALUE_LEN]
        budget = [NATIONAL_TRIES]
        spans: list[tuple[int, int]] | None = None
        for m in self._regex.finditer(text):
            cand = m.group(0).strip()
            # a national number must be the whole run of digit groups: "BE71 0961 2345 6760"
            # holds no phone number, however valid "0961 2345 6760" is somewhere
            tries = budget if not self._in_longer_run(text, m.start(), m.end()) else [0]
            found = self._check(cand, tries, region)
            if found and not cand.startswith(("+", "00")):
                if spans is None:
                    spans = iban_spans(text)
                if inside(spans, *m.span()):
                    continue
            if found:
                hint = ", the event's locale" if region and found == region else ""
                out.append(
                    Match(self.entity, cand, f"PHONE via pattern; valid number for region "
                          f"{found}{hint} (phonenumbers)", detector=self.name)
                )
        taken = {m.value for m in out}
        for m in self._keyed.finditer(text):
            cand = m.group(1)
            # no HRESULT test: under a phone key 2147942405 is a Dallas number
            if cand in taken or budget[0] <= 0:
                continue
            budget[0] -= 1
            found = phone_region(cand, region)
            if found:
                out.append(Match(self.entity, cand, "PHONE via pattern (the value of a key "
                                 f"naming a phone); valid number for region {found} "
                                 "(phonenumbers)", detector=self.name))
        return out

    @staticmethod
    def _in_longer_run(text: str, start: int, end: int) -> bool:
        """Whether the token just before or after (across one space) holds a digit."""
        before = text[max(0, start - 8):start].rstrip(" ").rsplit(" ", 1)[-1]
        after = text[end:end + 2].lstrip(" ")
        return any(c.isdigit() for c in before) or after[:1].isdigit()

    def _check(self, cand: str, budget: list[int], region: str | None = None) -> str | None:
        digits = sum(c.isdigit() for c in cand)
        if digits < 7 or digits > 15 or is_hresult(cand):
            return None
        international = cand.startswith(("+", "00"))
        formatted = any(c in cand for c in " ()-.")
        if not (international or formatted):
            if budget[0] <= 0 or not self._bare.fullmatch(cand):
                return None
            budget[0] -= 1
            return _bare_mobile(cand, region)
        if "." in cand and not international and not self._dotted.fullmatch(cand):
            return None
        if is_version(cand) and not self._dotted.fullmatch(cand):
            return None
        if cand.count("(") != cand.count(")") or self._date.search(cand):
            return None
        if cand.startswith("00"):
            cand = "+" + cand[2:]
        if not international:
            if budget[0] <= 0:
                return None
            budget[0] -= 1
            return _national(cand, region)
        try:
            num = phonenumbers.parse(cand, None)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(num):
            return None
        return phonenumbers.region_code_for_number(num) or "unknown"


def _regions(cand: str, hint: str | None) -> tuple[str, ...]:
    """Regions to try for a national candidate: the hint first, then `REGIONS` (all of
    them only after a trunk 0)."""
    fixed = REGIONS if cand.lstrip("(").startswith("0") else REGIONS[:1]
    fixed = (*fixed, *(r for shape, r in _BY_SHAPE if r not in fixed and shape.fullmatch(cand)))
    return fixed if hint is None else (hint, *(r for r in fixed if r != hint))


@lru_cache(maxsize=4096)
def _national(cand: str, hint: str | None = None) -> str | None:
    """The first region (see `_regions`) where the whole candidate is a valid national
    number. The match must span the whole candidate, so a number inside a longer digit
    run is not one."""
    for region in _regions(cand, hint):
        for m in phonenumbers.PhoneNumberMatcher(cand, region, leniency=_VALID, max_tries=2):
            if m.start == 0 and m.end == len(cand):
                return phonenumbers.region_code_for_number(m.number) or region
    return None


@lru_cache(maxsize=4096)
def phone_region(digits: str, hint: str | None = None) -> str | None:
    """The region where a bare run given as a phone (by its key or its field's name) is a
    valid number: with its country code (11 digits or more), else national in the hint's
    region or one of `REGIONS`."""
    if len(digits) >= 11 and not digits.startswith("0"):
        try:
            num = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            num = None
        if num is not None and phonenumbers.is_valid_number(num):
            return phonenumbers.region_code_for_number(num) or "unknown"
    for region in (hint, *REGIONS) if hint else REGIONS:
        try:
            num = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(num, region):
            return region
    return None


@lru_cache(maxsize=4096)
def _bare_mobile(cand: str, hint: str | None = None) -> str | None:
    """The first region (see `_regions`) where a bare trunk-0 run is a valid mobile
    number: a fixed line or a short code could as well be a zero-padded id."""
    for region in _regions(cand, hint):
        try:
            num = phonenumbers.parse(cand, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(num, region) \
                and phonenumbers.number_type(num) in _MOBILE:
            return region
    return None


PHONE = PhoneDetector()
