"""Bank and national identity numbers: IBAN and NATIONAL_ID.

Examples flagged::

    IBAN         "GB82 WEST 1234 5698 7654 32", "NL91ABNA0417164300"
    NATIONAL_ID  US SSN "536-90-4399", ES DNI "54362315K", ES NIE "X2482300W",
                 IT codice fiscale "RCCMNL83S18D969H", IN Aadhaar "2345 6789 0124",
                 FR NIR "2 95 10 99 126 111 93"

                 also US ITIN, IN PAN, UK NINO and NHS number, CA SIN, FI HETU,
                 SE personnummer, KR RRN, SG NRIC/FIN, BR CPF, CH AHV, BE national
                 number, MX CURP, AU Medicare "2123 45670 1", DE identity card
                 "LZ6311T06", DE Steuernummer "181/815/08155", KR RRN/FRN in its
                 dashed shape "850315-5987654"; "PESEL: 44051401458", "NPI:
                 1234567893", "LANR 345678801", "TIN 135-724-685-000" and "voter id
                 XKQ4471203" (bare runs, and ids without a check digit, after their label)

Why these: each format carries check digits (or, for the SSN and NINO, excluded
ranges) that `python-stdnum` validates, so a random count, timestamp or HRESULT
of the same length is rarely accepted. Formats that are a bare digit run with a
weak check (Aadhaar's 12 digits, a Steuer-ID, a BSN, a TCKN) are only taken when
written in their usual groups, or right after a label that names them ("SSN",
"PESEL", "TCKN", "personnummer"...): a bare ``86095742719`` may be any count or id.
A bare run is taken without a label only when it holds a birth date as well as a check
digit (PL PESEL, SE 12-digit personnummer, ZA id, KR RRN): about one random run in
50 to 1,500 passes both, and 13-digit runs that may be epoch milliseconds never do.
A few formats have no check digit at all and are taken by a shape telemetry does not
otherwise write: the MBI's fixed letter places, a Korean ``yymmdd-nnnnnnn`` with a real
birth date, a Steuernummer's slashed groups of its Land; the BSNR and the EPIC only
after their label.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.au import tfn as _tfn
from stdnum.be import nn as _be_nn
from stdnum.br import cpf as _cpf
from stdnum.ca import sin as _sin
from stdnum.ch import ssn as _ahv
from stdnum.de import idnr as _idnr
from stdnum.de import stnr as _stnr
from stdnum.es import dni as _dni
from stdnum.es import nie as _nie
from stdnum.fi import hetu as _hetu
from stdnum.fr import nir as _nir
from stdnum.gb import nhs as _nhs
from stdnum.in_ import aadhaar as _aadhaar
from stdnum.in_ import pan as _pan
from stdnum.it import codicefiscale as _cf
from stdnum.kr import rrn as _rrn
from stdnum.mx import curp as _curp
from stdnum.nl import bsn as _bsn
from stdnum.no import fodselsnummer as _fnr
from stdnum.pl import pesel as _pesel
from stdnum.se import personnummer as _pnr
from stdnum.th import pin as _th_pin
from stdnum.tr import tckimlik as _tckimlik
from stdnum.us import ssn as _ssn
from stdnum.za import idnr as _za_id

from audit.detectors.base import MAX_VALUE_LEN, Match

# Country code, check digits, then 2 to 8 groups of up to four, spaces or dashes between
# them optional (one kind of separator: see IbanDetector.find).
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?"
                   r"(?![\w-])")


def iban_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` holds an IBAN-shaped run, valid or not: digit groups inside one are
    account digits, not a phone number or an Aadhaar."""
    return [m.span() for m in _IBAN.finditer(text)]


def inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether ``start:end`` overlaps one of `spans`."""
    return any(s < end and start < e for s, e in spans)


class IbanDetector:
    """IBAN: country code and check digits, accepted by ``stdnum.iban`` (mod 97)."""

    name = "iban"
    entity = "IBAN"
    prefilter = r"[A-Z]{2}\d{2}[ -]?[A-Z0-9]{4}[ -]?[A-Z0-9]{4}"

    def find(self, text: str) -> list[Match]:
        """Candidates by regex; a failing one is retried without trailing groups, since a
        following word of four capitals or digits is taken into the run. Spaces and dashes
        are not mixed in one IBAN (``AL47-2121-1009 ...`` is an id and a word)."""
        out: list[Match] = []
        for m in _IBAN.finditer(text[:MAX_VALUE_LEN]):
            cand = m.group(0)
            if " " in cand and "-" in cand:
                continue
            while cand:
                if _iban.is_valid(cand):
                    out.append(Match(self.entity, cand, "IBAN via pattern; country and mod-97 "
                                     "check digits valid (python-stdnum)", detector=self.name))
                    break
                head, sep, _ = cand.rpartition("-" if "-" in cand else " ")
                cand = head if sep and len(head) >= 15 else ""
        return out


IBAN = IbanDetector()

_B = r"(?<![\w-])"  # no letter, digit or dash right before
_E = r"(?![\w-])"  # nor right after


def _sg_nric(value: str) -> bool:
    """Singapore NRIC/FIN: weighted digit sum, series offset, check letter."""
    first, digits, last = value[0], value[1:8], value[8]
    total = sum(int(d) * w for d, w in zip(digits, (2, 7, 6, 5, 4, 3, 2), strict=True))
    total += {"T": 4, "G": 4, "M": 3}.get(first, 0)
    letters = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK",
               "G": "XWUTRQPNMLK", "M": "XWUTRQPNJLK"}[first]
    return letters[total % 11] == last


#: NINO prefixes never issued (HMRC): first letter, second letter, pairs.
_NINO_FIRST, _NINO_SECOND = set("DFIQUV"), set("DFIOQUV")
_NINO_PAIRS = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _gb_nino(value: str) -> bool:
    """UK National Insurance number: issued prefixes and an A-D suffix; written in
    lower case only in spaced groups or with a letter that is not hex (a short hash)."""
    compact = re.sub(r"\s", "", value)
    pre = compact[:2].upper()
    if pre[0] in _NINO_FIRST or pre[1] in _NINO_SECOND or pre in _NINO_PAIRS:
        return False
    if compact.islower() and " " not in value and set(pre.lower()) <= set("abcdef"):
        return False
    return compact[-1].upper() in "ABCD"


def _digit_sum(n: int) -> int:
    return n // 10 + n % 10


def _de_kvnr(value: str) -> bool:
    """German health insurance number (KVNR): a letter and nine digits; the letter as
    two digits and the next eight, weighted 1, 2, 1..., digit sums added, mod 10."""
    digits = f"{ord(value[0]) - 64:02d}{value[1:9]}"
    total = sum(_digit_sum(int(d) * (1 + k % 2)) for k, d in enumerate(digits))
    return total % 10 == int(value[9]) and len(set(value[1:])) > 1


def _de_rvnr(value: str) -> bool:
    """German pension insurance number (RVNR): area, birth date, initial, serial, check
    digit over the first twelve digits (the initial as two) weighted 2,1,2,5,7,1,2,1,2,1,2,1."""
    day, month = int(value[2:4]), int(value[4:6])
    if not (1 <= day % 50 <= 31 and 1 <= month <= 12):
        return False
    digits = f"{value[:8]}{ord(value[8]) - 64:02d}{value[9:11]}"
    weights = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)
    total = sum(_digit_sum(int(d) * w) for d, w in zip(digits, weights, strict=True))
    return total % 10 == int(value[11])


def _no_time(ok: Callable[[str], bool]) -> Callable[[str], bool]:
    """``ok``, but not for ``<date>-<hhmm>``: a compact timestamp, not a personnummer."""
    def check(value: str) -> bool:
        last = value[-4:]
        return not (int(last[:2]) < 24 and int(last[2:]) < 60) and ok(value)
    return check


def _letter_upper(ok: Callable[[str], bool]) -> Callable[[str], bool]:
    """``ok`` on the upper-cased value; a lower-case check letter only when it is not a
    hex digit (``12345678a`` is as likely a hex token)."""
    def check(value: str) -> bool:
        if value[-1].islower() and value[-1] in "abcdef":
            return False
        return ok(value.upper())
    return check


def _au_medicare(value: str) -> bool:
    """Australian Medicare card number: eight digits weighted 1, 3, 7, 9 repeated, mod
    10, give the ninth (the tenth is the card's issue number)."""
    digits = re.sub(r"\D", "", value)
    total = sum(int(d) * w for d, w in zip(digits[:8], (1, 3, 7, 9) * 2, strict=True))
    return total % 10 == int(digits[8])


def _kr_rrn(value: str) -> bool:
    """Korean RRN per python-stdnum, but not with sex digit 9 or 0 (born in the 1800s):
    no one living has one, and a random run passes the rest often enough."""
    return value.replace("-", "")[6] not in "90" and _rrn.is_valid(value)


def _us_npi(value: str) -> bool:
    """US National Provider Identifier: Luhn over the ten digits behind prefix 80840."""
    return _luhn.is_valid("80840" + value)


def _kr_rrn_shape(value: str) -> bool:
    """Korean RRN or foreign registration number by its shape alone: a birth date and a
    sex/century digit 1 to 8 that agree. Numbers issued since October 2020 end in
    random digits, so their check digit proves nothing; taken only where the shape is
    written out (``yymmdd-nnnnnnn``) or after a label."""
    digits = value.replace("-", "")
    try:
        _rrn.get_birth_date(digits)
    except Exception:  # a month or day that does not exist
        return False
    return digits[6] in "12345678"


def _za_number(value: str) -> bool:
    """South African id number: birth date, citizenship 0 (citizen), 1 (permanent
    resident) or 2 (refugee, which python-stdnum does not know yet), Luhn digit."""
    if value[10] not in "012":
        return False
    try:
        _za_id.get_birth_date(value)
    except Exception:
        return False
    return _luhn.is_valid(value)


def _us_itin(value: str) -> bool:
    """US ITIN: area 9 and the IRS's group ranges 50-65, 70-88, 90-92 and 94-99
    (python-stdnum knows only those from 70)."""
    group = int(value[4:6])
    return value[0] == "9" and (50 <= group <= 65 or (70 <= group <= 99 and group not in (89, 93)))


def _es_dni(value: str) -> bool:
    """Spanish DNI: eight digits (seven when the leading zero is left out) and the
    mod-23 letter."""
    digits = re.sub(r"\D", "", value)
    return _dni.is_valid(digits.zfill(8) + value[-1])


def _ph_tin(value: str) -> bool:
    """Philippine TIN: the ninth digit is the first eight weighted 9 down to 2, mod 11
    (a branch code of three digits may follow)."""
    digits = value.replace("-", "")
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
    return total % 11 == int(digits[8])


#: the alphabet of German identity card numbers (no vowels, no B, D, Q or S)
_DE_ID_ALPHA = "CFGHJKLMNPRTVWXYZ"


def _icao_check(value: str) -> bool:
    """ICAO 9303 check digit: letters count 10 to 35, weights 7, 3, 1, sum mod 10."""
    vals = [int(c) if c.isdigit() else ord(c) - 55 for c in value[:-1]]
    return sum(v * w for v, w in zip(vals, (7, 3, 1) * 3, strict=False)) % 10 == int(value[-1])


def _de_id_card(value: str) -> bool:
    """German identity card (Personalausweis) number since 2010: nine characters of its
    alphabet, the last an ICAO check digit; only with a letter past the first (a letter
    and eight digits is as likely a ticket or order id)."""
    return any(c.isalpha() for c in value[1:]) and _icao_check(value)


def _de_lanr(value: str) -> bool:
    """German lifelong doctor number (LANR): six digits, a check digit (weights 4 and 9,
    mod 10, from 10), and a two-digit specialty."""
    total = sum(int(d) * w for d, w in zip(value[:6], (4, 9) * 3, strict=True))
    return (10 - total % 10) % 10 == int(value[6])


_MBI_L = "[AC-HJKMNP-RT-Y]"  # the MBI's letters
_MBI_A = "[0-9AC-HJKMNP-RT-Y]"

#: (label, pattern, validator): the label goes into the explanation, never the value.
_FORMATS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    ("US SSN", rf"{_B}\d{{3}}([-. ])\d{{2}}\1\d{{4}}{_E}",
     lambda v: _ssn.is_valid(re.sub(r"\D", "", v))),
    ("US ITIN", rf"{_B}9\d{{2}}-\d{{2}}-\d{{4}}{_E}", _us_itin),
    ("ES DNI", rf"{_B}\d{{7,8}}-?[A-Za-z]{_E}", _letter_upper(_es_dni)),
    ("ES NIE", rf"{_B}[XYZxyz]-?\d{{7}}-?[A-Za-z]{_E}", _letter_upper(_nie.is_valid)),
    ("IT codice fiscale", rf"{_B}[A-Z]{{6}}\d{{2}}[A-EHLMPR-T][0-7]\d[A-Z]\d{{3}}[A-Z]{_E}",
     _cf.is_valid),
    # colon-grouped too, but not as part of an IPv6 address (no colon either side)
    ("IN Aadhaar", r"(?<![\w:-])[2-9]\d{3}(?:[ -]\d{4}[ -]|:\d{4}:)\d{4}(?![\w:-])",
     lambda v: _aadhaar.is_valid(v.replace(":", ""))),
    ("IN PAN", rf"{_B}[A-Z]{{3}}[ABCFGHJLPT][A-Z]\d{{4}}[A-Z]{_E}", _pan.is_valid),
    ("FR NIR", rf"{_B}[12] ?\d{{2}} ?[01]\d ?(?:\d{{2}}|2[AB]) ?\d{{3}} ?\d{{3}} ?\d{{2}}{_E}",
     _nir.is_valid),
    ("UK NINO", rf"{_B}(?:[A-Z]{{2}}(?: ?\d{{2}}){{3}} ?[A-D]|[a-z]{{2}}(?: ?\d{{2}}){{3}} ?[a-d])"
     rf"{_E}", _gb_nino),
    ("UK NHS number", rf"{_B}\d{{3}}([ -])\d{{3}}\1\d{{4}}{_E}", _nhs.is_valid),
    ("CA SIN", rf"{_B}[1-79]\d{{2}}([ -])\d{{3}}\1\d{{3}}{_E}", _sin.is_valid),
    # a letter may come right before: "code is030594W903B" (the century sign, the date
    # and the mod-31 check character keep it apart from a token's tail)
    ("FI HETU", rf"(?<![\d_-])\d{{6}}[-+A-FU-Y]\d{{3}}[0-9A-Y]{_E}",
     lambda v: _hetu.is_valid(v, allow_temporary=True)),
    ("SE personnummer", rf"{_B}(?:19|20)?\d{{6}}[-+]\d{{4}}{_E}", _no_time(_pnr.is_valid)),
    ("KR RRN/FRN", rf"{_B}\d{{6}}-\d{{7}}{_E}", _kr_rrn_shape),
    ("SG NRIC/FIN", rf"{_B}[STFGM]\d{{7}}[A-Z]{_E}", _sg_nric),
    ("BR CPF", rf"{_B}\d{{3}}\.\d{{3}}\.\d{{3}}-\d{{2}}{_E}", _cpf.is_valid),
    ("CH AHV", rf"{_B}756\.\d{{4}}\.\d{{4}}\.\d{{2}}{_E}", _ahv.is_valid),
    ("BE national number", rf"{_B}\d{{2}}\.\d{{2}}\.\d{{2}}-\d{{3}}\.\d{{2}}{_E}", _be_nn.is_valid),
    ("MX CURP", rf"{_B}[A-Z]{{4}}\d{{6}}[HMX][A-Z]{{5}}[0-9A-Z]\d{_E}", _curp.is_valid),
    ("DE health insurance number", rf"{_B}[A-Z]\d{{9}}{_E}", _de_kvnr),
    ("DE pension insurance number", rf"{_B}\d{{8}}[A-Z]\d{{3}}{_E}", _de_rvnr),
    # only in its card grouping, 4-5-1: ten bare digits are any count
    ("AU Medicare number", rf"{_B}[2-6]\d{{3}} \d{{5}} \d{_E}", _au_medicare),
    # no check digit, but letters and digits in fixed places from an alphabet without
    # S, L, O, I, B and Z: 1EG4-TE5-MK73
    ("US Medicare MBI",
     rf"{_B}[1-9]{_MBI_L}{_MBI_A}\d(-?){_MBI_L}{_MBI_A}\d\1{_MBI_L}{{2}}\d{{2}}{_E}",
     lambda v: True),
    # in lower case only in its dashed groups
    ("US Medicare MBI", rf"{_B}[1-9]{_MBI_L.lower()}{_MBI_A.lower()}\d-{_MBI_L.lower()}"
     rf"{_MBI_A.lower()}\d-{_MBI_L.lower()}{{2}}\d{{2}}{_E}", lambda v: True),
    # a Philippine TIN with its branch code, in its dashed groups
    ("PH TIN", rf"{_B}\d{{3}}-\d{{3}}-\d{{3}}-\d{{3}}{_E}", _ph_tin),
    ("DE identity card number", rf"{_B}[{_DE_ID_ALPHA}][{_DE_ID_ALPHA}0-9]{{7}}\d{_E}",
     _de_id_card),
    # the tax office's slashed form (per Land, python-stdnum): 12/3456/78901, 123/456/78901
    ("DE Steuernummer", r"(?<![\w/.:-])\d{2,3}/\d{3,4}/\d{4,5}(?![\w/:-]|\.\d)", _stnr.is_valid),
)

#: Formats checked here rather than by python-stdnum, and what is checked.
_OWN_CHECKS = {
    "UK NINO": "(issued prefix and suffix)", "SG NRIC/FIN": "(check letter)",
    "DE health insurance number": "(check digit)",
    "DE pension insurance number": "(birth date and check digit)",
    "AU Medicare number": "(check digit)", "US NPI": "(Luhn check digit)",
    "US Medicare MBI": "(its fixed letter and digit places; it has no check digit)",
    "US ITIN": "(area 9 and an issued group)", "ZA ID number": "(birth date, status, Luhn)",
    "KR RRN/FRN": "(birth date and sex digit; those issued since 2020 have no check digit)",
    "DE identity card number": "(ICAO check digit)", "DE LANR": "(check digit)",
    "DE BSNR": "(its label; it has no check digit)",
    "PH TIN": "(mod-11 check digit)",
    "IN voter id (EPIC)": "(its label and shape; it has no check digit)",
}

#: Numbers written as a bare digit run are taken only after a label that names them
#: (a count, an id or a timestamp passes a one-digit check too often): the label, up to
#: 24 other characters, then the run; each (label, validator) whose length fits is tried.
_LABELS = (
    r"ssn|social security|sin|nas|tfn|tax file|medicare|pesel|tckn|t\.?c\.? kimlik|kimlik"
    r"|steuer-?id|idnr|identifikationsnummer|personnummer|pnr|hetu|henkil[oö]tunnus"
    r"|aadhaa?r|bsn|burgerservicenummer|f[oø]dselsnummer|national (?:id|insurance)"
    r"|(?:id|identity|identification) (?:number|no|code)|citizen id|tnin|thai id|rsa id"
    r"|south african id|resident (?:registration )?number|rrn|frn|foreign registration"
    r"|nric|nhs|turkish id"
    r"|เลขประจำตัวประชาชน|เลขบัตรประชาชน"  # Thai: "citizen id number", "id card number"
)
_BARE: tuple[tuple[str, int, Callable[[str], bool]], ...] = (
    ("US SSN", 9, _ssn.is_valid), ("CA SIN", 9, _sin.is_valid), ("AU TFN", 9, _tfn.is_valid),
    ("NL BSN", 9, _bsn.is_valid), ("UK NHS number", 10, _nhs.is_valid),
    ("SE personnummer", 10, _pnr.is_valid), ("PL PESEL", 11, _pesel.is_valid),
    ("TR T.C. kimlik no", 11, _tckimlik.is_valid), ("DE Steuer-ID", 11, _idnr.is_valid),
    ("NO fødselsnummer", 11, _fnr.is_valid), ("IN Aadhaar", 12, _aadhaar.is_valid),
    ("SE personnummer", 12, _pnr.is_valid), ("ZA ID number", 13, _za_number),
    ("TH national id", 13, _th_pin.is_valid), ("KR RRN/FRN", 13, _kr_rrn_shape),
)
#: A label that names one scheme ("TFN", "PESEL") has only that scheme's check tried;
#: a generic one ("id number", "national id") every check of the run's length.
_SCHEME_LABELS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (scheme, re.compile(rf"(?i:\b(?:{words})\b)")) for scheme, words in (
        ("US SSN", r"ssn|social security"), ("CA SIN", r"sin|nas"),
        ("AU TFN", r"tfn|tax file"), ("NL BSN", r"bsn|burgerservicenummer"),
        ("UK NHS number", r"nhs"), ("PL PESEL", r"pesel"),
        ("TR T.C. kimlik no", r"tckn|kimlik|turkish id"),
        ("DE Steuer-ID", r"steuer-?id|idnr|identifikationsnummer"),
        ("SE personnummer", r"personnummer|pnr"), ("NO fødselsnummer", r"f[oø]dselsnummer"),
        ("IN Aadhaar", r"aadhaa?r"), ("ZA ID number", r"rsa id|south african id"),
        ("KR RRN/FRN", r"rrn|frn|resident registration|foreign registration"),
    ))
#: (also nine digits in threes, as a TFN or SIN is written: "TFN 123 456 782")
_LABELLED = re.compile(rf"(?i:\b(?:{_LABELS}))\b[^\d\n]{{0,24}}?(?<![\w-])"
                       rf"(\d{{9,13}}|\d{{3}}([ -])\d{{3}}\2\d{{3}}){_E}")
#: Bare runs taken without a label: formats holding a birth date and a check digit,
#: validated by python-stdnum (date included); a 12-digit personnummer must not read as
#: ``yyyymmddhhmm``.
_DATED: tuple[tuple[str, int, Callable[[str], bool]], ...] = (
    ("PL PESEL", 11, _pesel.is_valid), ("SE personnummer", 12, _no_time(_pnr.is_valid)),
    ("ZA ID number", 13, _za_number), ("KR RRN", 13, _kr_rrn),
)
#: A run of 11 to 13 digits on its own (not in a version, path, URL or IP address); a
#: 13-digit one starting with 1 or 20 is left out: epoch milliseconds (2001 to 2036).
_DATED_RUN = re.compile(r"(?<![\w.:/+-])(\d{11,12}|(?!1|20)\d{13})(?![\w:/-]|[.,]\d)")


def _after(label: str, value: str, gap: int = 24) -> re.Pattern[str]:
    """``value`` (group 1) right after ``label`` (any case) and up to ``gap`` characters
    that are not digits."""
    return re.compile(rf"(?i:\b(?:{label}))\b[^\d\n]{{0,{gap}}}?(?<![\w-])({value}){_E}")


#: Numbers taken only right after their own name: a US NPI or a German doctor's number
#: (LANR) names a doctor and has a plain check digit, as has a Philippine tax
#: identification number (TIN, 000-123-456-000); a practice's BSNR and an Indian voter id
#: (EPIC, ABC1234567) have none.
_NAMED: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = (
    ("US NPI", _after("npi|provider (?:identifier|number)", r"[12]\d{9}", 8), _us_npi),
    ("DE LANR", _after("lanr|arztnummer", r"\d{9}"), _de_lanr),
    ("DE BSNR", _after("bsnr|betriebsst(?:ä|ae)ttennummer", r"\d{9}"), lambda v: True),
    ("PH TIN", _after("tin|tax id|tax identification (?:number|no)|taxpayer id",
                      r"\d{3}(-?)\d{3}\2\d{3}(?:\2\d{3})?"), _ph_tin),
    ("IN voter id (EPIC)", _after("voter|vote|epic", r"[A-Z]{3}\d{7}"), lambda v: True),
)
#: Well-known placeholders that pass the checks but identify no one.
_PLACEHOLDERS = frozenset({"123456789", "12345678Z"})


class NationalIdDetector:
    """NATIONAL_ID: national identity numbers whose check digits `python-stdnum` verifies."""

    name = "national-id"
    entity = "NATIONAL_ID"
    prefilter = (
        r"\d{3}[. -]\d{2}[. -]\d{4}|\d{7}-?[A-Za-z]|[XYZxyz]-?\d{7}|[A-Z]{6}\d{2}[A-Z]\d{2}"
        r"|\d{4}[ -]\d{4}[ -]\d{4}|\d{4}:\d{4}:\d{4}"
        r"|[12] ?\d{2} ?[01]\d ?[0-9AB]{2} ?\d{3} ?\d{3} ?\d{2}"
        r"|[A-Z]{5}\d{4}[A-Z]|[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d]"
        r"|\d{3}[ -]\d{3}[ -]\d{3}|\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]|\d{6}-\d{7}|[STFGM]\d{7}[A-Z]"
        r"|\d{3}\.\d{3}\.\d{3}-\d{2}|756\.\d{4}\.|\d{2}\.\d{2}\.\d{2}-\d{3}|[A-Z]{4}\d{6}[HMX]"
        r"|[A-Z]\d{9}|\d{8}[A-Z]\d{3}|[1-9][A-Z][0-9A-Z]\d-?[A-Z][0-9A-Z]\d-?[A-Z]{2}\d{2}"
        rf"|(?i:{_LABELS}|npi|provider|lanr|arztnummer|bsnr|betriebsst|tin|tax id|taxpayer)"
        r"[^0-9]{0,24}[0-9]{9}|\d{4} \d{5} \d|(?i:vote|epic)[^0-9]{0,30}[0-9]{7}"
        r"|[1-9][a-z][0-9a-z]\d-[a-z][0-9a-z]\d-[a-z]{2}\d{2}"
        r"|[CFGHJ-NPRTV-Z][0-9CFGHJ-NPRTV-Z]{7}[0-9]|\d{2,3}/\d{3,4}/\d{4,5}"
        r"|(?:^|[^\w.:/+-])(?:[0-9]{11,12}|[03-9][0-9]{12}|2[1-9][0-9]{11})(?:$|[^\w:/-])"
    )
    _regexes = tuple((label, re.compile(p), ok) for label, p, ok in _FORMATS)

    def find(self, text: str) -> list[Match]:
        """Every format's candidates, kept when its validator accepts them; then labelled
        bare digit runs."""
        text = text[:MAX_VALUE_LEN]
        out: list[Match] = []
        spans: list[tuple[int, int]] | None = None
        taken: list[tuple[int, int]] = []
        for label, regex, ok in self._regexes:
            for m in regex.finditer(text):
                cand = m.group(0)
                if inside(taken, *m.span()) or re.sub(r"[ -]", "", cand) in _PLACEHOLDERS \
                        or (" " in cand and _in_longer_run(text, *m.span())) \
                        or not _valid(ok, cand):
                    continue
                if spans is None:
                    spans = iban_spans(text)
                if inside(spans, *m.span()):
                    continue
                taken.append(m.span())
                out.append(self._match(cand, label))
        for m in _LABELLED.finditer(text):
            cand = m.group(1)
            digits = re.sub(r"[ -]", "", cand)
            if inside(taken, *m.span(1)) or digits in _PLACEHOLDERS \
                    or (" " in cand and _in_longer_run(text, *m.span(1))):
                continue
            named = {sc for sc, words in _SCHEME_LABELS
                     if words.search(text, m.start(), m.start(1))}
            label = next((lb for lb, n, ok in _BARE if n == len(digits) and _valid(ok, digits)
                          and (not named or lb in named)), None)
            if label is not None:
                taken.append(m.span(1))
                out.append(self._match(cand, label, labelled=True))
        for label, regex, ok in _NAMED:
            for m in regex.finditer(text):
                if not inside(taken, *m.span(1)) and _valid(ok, m.group(1)):
                    taken.append(m.span(1))
                    out.append(self._match(m.group(1), label, labelled=True))
        for m in _DATED_RUN.finditer(text):
            cand = m.group(1)
            if inside(taken, *m.span(1)):
                continue
            label = next((lb for lb, n, ok in _DATED if n == len(cand) and _valid(ok, cand)), None)
            if label is not None:
                taken.append(m.span(1))
                out.append(self._match(cand, label, dated=True))
        return out

    def _match(self, cand: str, label: str, labelled: bool = False,
               dated: bool = False) -> Match:
        how = " after a label naming it" if labelled else ""
        how = " (a bare run: birth date and check digit)" if dated else how
        by = _OWN_CHECKS.get(label, "per python-stdnum")
        return Match(self.entity, cand, f"NATIONAL_ID via pattern{how}; a valid {label} {by}",
                     detector=self.name)


def _in_longer_run(text: str, start: int, end: int) -> bool:
    """Whether digit groups go on across one space: "51 824 753 5564" holds no NHS number
    in its last three groups."""
    before = text[max(0, start - 2):start]
    after = text[end:end + 2]
    return bool(re.fullmatch(r".?\d ", before) or re.fullmatch(r" \d.?", after))


def _valid(ok: Callable[[str], bool], cand: str) -> bool:
    try:
        return bool(ok(cand))
    except Exception:  # a validator's own error means "not valid"
        return False


NATIONAL_ID = NationalIdDetector()
