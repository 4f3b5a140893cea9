"""Payment card numbers: CARD_NUMBER.

Example flagged: ``"card 4111 1111 1111 1111 declined"`` (13–19 digits, spaces or
dashes allowed, Luhn checksum valid, issuer prefix of a known card scheme).

Not flagged: a random 16-digit number that fails Luhn, a Luhn-valid number
with an unknown issuer prefix, or one repeated digit (``0000 0000 0000 0000``).
Why: Luhn alone passes one random number in ten; the issuer table cuts
further false positives on ids and counters.
"""

from __future__ import annotations

from stdnum import luhn

from audit.detectors.base import PatternDetector

# (scheme, prefix range low, high, allowed lengths) after the public IIN tables.
_IIN: tuple[tuple[str, int, int, tuple[int, ...]], ...] = (
    ("Visa", 4, 4, (13, 16, 19)),
    ("Mastercard", 51, 55, (16,)),
    ("Mastercard", 2221, 2720, (16,)),
    ("American Express", 34, 34, (15,)),
    ("American Express", 37, 37, (15,)),
    ("Discover", 6011, 6011, (16, 17, 18, 19)),
    ("Discover", 644, 649, (16, 17, 18, 19)),
    ("Discover", 65, 65, (16, 17, 18, 19)),
    ("Diners Club", 300, 305, (14, 15, 16, 17, 18, 19)),
    ("Diners Club", 36, 36, (14, 15, 16, 17, 18, 19)),
    ("Diners Club", 38, 39, (14, 15, 16, 17, 18, 19)),
    ("JCB", 3528, 3589, (16, 17, 18, 19)),
    ("UnionPay", 62, 62, (16, 17, 18, 19)),
    ("Maestro", 50, 50, (12, 13, 14, 15, 16, 17, 18, 19)),
    ("Maestro", 56, 58, (12, 13, 14, 15, 16, 17, 18, 19)),
    ("Maestro", 6304, 6304, (12, 13, 14, 15, 16, 17, 18, 19)),
    ("Maestro", 6759, 6759, (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro UK
    ("Maestro", 6761, 6763, (12, 13, 14, 15, 16, 17, 18, 19)),
    ("UATP", 1, 1, (15,)),  # airline cards: 1, then 14 digits
    ("Mir", 2200, 2204, (16, 17, 18, 19)),
)


def card_scheme(digits: str) -> str | None:
    """Card scheme whose IIN range and length fit `digits`, else None."""
    for scheme, low, high, lengths in _IIN:
        width = len(str(low))
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return scheme
    return None


def _valid_card(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    if " " in value and "-" in value:
        return False
    return luhn.is_valid(digits) and card_scheme(digits) is not None


CARD_NUMBER = PatternDetector(
    name="card-number",
    entity="CARD_NUMBER",
    pattern=r"(?<![\w.+-])\d(?:[ -]?\d){12,18}(?![\w]|[.-]\w)",  # not a GUID's first groups
    prefilter=r"\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d[ -]?\d",
    explanation="CARD_NUMBER via pattern; Luhn checksum valid and known issuer prefix",
    validate=_valid_card,
)
