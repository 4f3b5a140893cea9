"""Bank and national identity numbers: IBAN and NATIONAL_ID.

Examples flagged::

    IBAN         "GB82 WEST 1234 5698 7654 32", "NL91ABNA0417164300"
    NATIONAL_ID  US SSN "536-90-4399", ES DNI "54362315K", ES NIE "X2482300W",
                 IT codice fiscale "RCCMNL83S18D969H", IN Aadhaar "2345 6789 0124",
                 FR NIR "2 95 10 99 126 111 93"

Why these: each format carries check digits (or, for the SSN, excluded
ranges) that `python-stdnum` validates, so a random count, timestamp or HRESULT
of the same length is rarely accepted. Formats that are a bare digit run with a
weak check (Aadhaar's 12 digits, a Steuer-ID, a BSN) are only taken when written
in their usual groups; SSNs only with their dashes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum import iban as _iban
from stdnum.es import dni as _dni
from stdnum.es import nie as _nie
from stdnum.fr import nir as _nir
from stdnum.in_ import aadhaar as _aadhaar
from stdnum.it import codicefiscale as _cf
from stdnum.us import ssn as _ssn

from audit.detectors.base import MAX_VALUE_LEN, Match

# Country code, check digits, then 2 to 8 groups of up to four (spaces optional).
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![\w-])")


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
    prefilter = r"[A-Z]{2}\d{2} ?[A-Z0-9]{4} ?[A-Z0-9]{4}"

    def find(self, text: str) -> list[Match]:
        """Candidates by regex; a failing one is retried without trailing groups, since a
        following word of four capitals or digits is taken into the run."""
        out: list[Match] = []
        for m in _IBAN.finditer(text[:MAX_VALUE_LEN]):
            cand = m.group(0)
            while cand:
                if _iban.is_valid(cand):
                    out.append(Match(self.entity, cand, "IBAN via pattern; country and mod-97 "
                                     "check digits valid (python-stdnum)", detector=self.name))
                    break
                head, sep, _ = cand.rpartition(" ")
                cand = head if sep and len(head) >= 15 else ""
        return out


IBAN = IbanDetector()

_B = r"(?<![\w-])"  # no letter, digit or dash right before
_E = r"(?![\w-])"  # nor right after
#: (label, pattern, validator): the label goes into the explanation, never the value.
_FORMATS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    ("US SSN", rf"{_B}\d{{3}}-\d{{2}}-\d{{4}}{_E}", _ssn.is_valid),
    ("ES DNI", rf"{_B}\d{{8}}-?[A-Z]{_E}", _dni.is_valid),
    ("ES NIE", rf"{_B}[XYZ]-?\d{{7}}-?[A-Z]{_E}", _nie.is_valid),
    ("IT codice fiscale", rf"{_B}[A-Z]{{6}}\d{{2}}[A-EHLMPR-T][0-7]\d[A-Z]\d{{3}}[A-Z]{_E}",
     _cf.is_valid),
    ("IN Aadhaar", rf"{_B}[2-9]\d{{3}}[ -]\d{{4}}[ -]\d{{4}}{_E}", _aadhaar.is_valid),
    ("FR NIR", rf"{_B}[12] ?\d{{2}} ?[01]\d ?(?:\d{{2}}|2[AB]) ?\d{{3}} ?\d{{3}} ?\d{{2}}{_E}",
     _nir.is_valid),
)
#: Well-known placeholders that pass the checks but identify no one.
_PLACEHOLDERS = frozenset({"123456789", "12345678Z"})


class NationalIdDetector:
    """NATIONAL_ID: national identity numbers whose check digits `python-stdnum` verifies."""

    name = "national-id"
    entity = "NATIONAL_ID"
    prefilter = (
        r"\d{3}-\d{2}-\d{4}|\d{8}-?[A-Z]|[XYZ]-?\d{7}|[A-Z]{6}\d{2}[A-Z]\d{2}"
        r"|\d{4}[ -]\d{4}[ -]\d{4}|[12] ?\d{2} ?[01]\d ?[0-9AB]{2} ?\d{3} ?\d{3} ?\d{2}"
    )
    _regexes = tuple((label, re.compile(p), ok) for label, p, ok in _FORMATS)

    def find(self, text: str) -> list[Match]:
        """Every format's candidates, kept when its validator accepts them."""
        text = text[:MAX_VALUE_LEN]
        out: list[Match] = []
        spans: list[tuple[int, int]] | None = None
        for label, regex, ok in self._regexes:
            for m in regex.finditer(text):
                cand = m.group(0)
                if re.sub(r"[ -]", "", cand) in _PLACEHOLDERS or not _valid(ok, cand):
                    continue
                if spans is None:
                    spans = iban_spans(text)
                if inside(spans, *m.span()):
                    continue
                out.append(Match(self.entity, cand, f"NATIONAL_ID via pattern; a valid {label} "
                                 "per python-stdnum", detector=self.name))
        return out


def _valid(ok: Callable[[str], bool], cand: str) -> bool:
    try:
        return bool(ok(cand))
    except Exception:  # a validator's own error means "not valid"
        return False


NATIONAL_ID = NationalIdDetector()
