"""PHONE numbers in national formats, with each event's locale as the region hint.

Why: a detector sees one string, but whether ``030 12345678`` is a phone number depends
on the country (it is a Berlin number) and ``532 123 45 67`` is a Turkish mobile
number only in Turkey. The event says where its user is: its locale (``UserLanguage``,
``de-DE`` → DE). This pass runs after a column's ordinary search, over the values that
search found nothing in, once per distinct (value, region) pair: a column of a million
rows costs a vectorised grouping and a `phonenumbers` lookup per distinct pair that
passes the PHONE prefilter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.detectors.base import MAX_VALUE_LEN, Match
from audit.detectors.contact import PHONE, region_of_locale
from audit.detectors.filters import excluded_by
from audit.lazy import lazy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from audit.detectors.scan import Distinct
else:
    np = lazy("numpy")
    pd = lazy("pandas")
    pa = lazy("pyarrow")
    pc = lazy("pyarrow.compute")

#: The region every national number is tried in anyway: its hint adds nothing.
DEFAULT_REGION = "US"
#: What a value needs for the region to matter: a national-format candidate (two or three
#: digit groups without a "+", not dotted but as 425.555.0123), a bare trunk-0 run, or a run
#: given as a phone. Versions and IP addresses, which PHONE's own prefilter lets
#: through, are left out.
PREFILTER = (
    r"\(\d{1,4}\)|\d[ \t-]{1,2}\d{2,4}[ \t-]\d{2,4}|\d{2,5}[ \t-]\d{4,8}|\d{3}\.\d{3}\.\d{4}"
    r"|\b0[1-9]\d{8,9}\b|(?i:phone|tel|mobile|cell|msisdn|handy|cep)[^0-9]{0,6}[0-9]{7}"
)


def event_regions(locales: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each event's region as a code into the returned region names (-1: none), from
    its locale tags; each distinct tag is read once."""
    codes, tags = pd.factorize(locales.astype(object).where(locales.notna(), None))
    names: list[str] = []
    by_tag = np.full(len(tags) + 1, -1, dtype=np.int64)  # last slot: a missing locale
    for j, tag in enumerate(tags.tolist()):
        region = region_of_locale(tag) if isinstance(tag, str) else None
        if region is not None and region != DEFAULT_REGION:
            if region not in names:
                names.append(region)
            by_tag[j] = names.index(region)
    return by_tag[codes], names


def regional_phones(
    distinct: Distinct,
    event_rows: np.ndarray,
    regions: tuple[np.ndarray, list[str]],
    found: dict[int, Match],
    exclude: tuple[str, ...] = (),
) -> tuple[np.ndarray, list[Match]]:
    """PHONE matches that need the event's region, as :func:`~audit.detectors.scan.
    matched_rows` gives them (positions in ``distinct.index``, with the match).

    ``event_rows[k]`` is the event (a position in the frame ``regions`` describes) of
    ``distinct.index[k]``; values in ``found`` (settled by the column's search: positions
    in ``distinct.uniques``) are not looked at.
    """
    codes_of_event, names = regions
    empty: tuple[np.ndarray, list[Match]] = (np.empty(0, dtype=np.int64), [])
    if not names or not len(distinct.uniques):
        return empty
    row_region = codes_of_event[event_rows]
    values = distinct.codes
    keep = (values >= 0) & (row_region >= 0)
    # values of events with a region that nothing matched yet and PREFILTER passes
    asked = np.zeros(len(distinct.uniques), dtype=bool)
    asked[values[keep]] = True
    if found:
        asked[np.fromiter(found, dtype=np.int64, count=len(found))] = False
    asked &= ~distinct.opaque  # a whole GUID or digest holds no phone number
    at = np.flatnonzero(asked)
    asked[at] = _prefilter(distinct.uniques[at], PREFILTER)
    keep[keep] = asked[values[keep]]
    rows = np.flatnonzero(keep)
    if not len(rows):
        return empty
    pairs = values[rows] * len(names) + row_region[rows]
    distinct_pairs, inverse = np.unique(pairs, return_inverse=True)
    answers: list[Match | None] = []
    for pair in distinct_pairs.tolist():
        text = distinct.uniques[pair // len(names)][:MAX_VALUE_LEN]
        answers.append(_first(text, names[pair % len(names)], exclude))
    hit = np.fromiter((a is not None for a in answers), dtype=bool, count=len(answers))
    chosen = hit[inverse]
    matches = [answers[i] for i in inverse[chosen].tolist()]
    return rows[chosen], matches  # type: ignore[return-value]


def _prefilter(texts: np.ndarray, pattern: str) -> np.ndarray:
    """Whether RE2 finds ``pattern`` in each text (vectorised by pyarrow)."""
    if not len(texts):
        return np.zeros(0, dtype=bool)
    arrow = pa.array(texts, type=pa.large_string(), from_pandas=True)
    found = pc.fill_null(pc.match_substring_regex(arrow, pattern), False)
    return found.to_numpy(zero_copy_only=False)


def _first(text: str, region: str, exclude: tuple[str, ...]) -> Match | None:
    if exclude and excluded_by(text, exclude):
        return None
    for m in PHONE.find(text, region):
        if not (exclude and excluded_by(m.value, exclude)):
            return m
    return None
