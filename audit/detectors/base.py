"""Building blocks shared by every detector: the `Match` value, the `Detector`
protocol and `PatternDetector` (a regex plus validation, after presidio's
recognizers).

Why: detectors are pure functions over one string so that they can be tested on
their own and run over unique column values by the vectorised `detect()`.

Values are untrusted. Every detector looks at no more than `MAX_VALUE_LEN`
characters of a value (the first 64 KiB), and every regex uses bounded
quantifiers without nested ambiguity, so matching stays linear in the input.
Prefilters are also kept RE2-compatible (no look-around, no back-references)
so pandas can run them through pyarrow when the column has an Arrow string
dtype.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

#: Longest prefix of a value that detectors analyse (64 KiB); the rest is ignored.
MAX_VALUE_LEN = 64 * 1024

#: A GUID's text (8-4-4-4-12 hex digits), no anchors or braces: a piece of other patterns.
GUID_TEXT = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"


@lru_cache(maxsize=1)
def hex_digit_values() -> np.ndarray:
    """Byte -> the value of the hex digit it is (either case), 16 for any other byte: GUIDs
    and digests read by numpy over their bytes, not ``int()`` per value."""
    import numpy as np

    table = np.full(256, 16, dtype=np.uint8)
    for value, digit in enumerate("0123456789abcdef"):
        table[ord(digit)] = table[ord(digit.upper())] = value
    return table


@dataclass(frozen=True, slots=True)
class Match:
    """One detection in one string.

    `explanation` is a single line that never contains the raw value (the
    engine shows it next to masked evidence). `form` names the encoding or
    digest of a known identity, e.g. ``sha256(lower(email))``.
    """

    entity: str
    value: str
    explanation: str
    form: str | None = None
    detector: str | None = None


@runtime_checkable
class Detector(Protocol):
    """What `detect()` needs from a detector."""

    @property
    def name(self) -> str:
        """Short stable name, reported as the finding's detector."""
        ...

    @property
    def entity(self) -> str:
        """Entity name rules refer to (EMAIL, PHONE, ...)."""
        ...

    @property
    def prefilter(self) -> str:
        """Cheap RE2-compatible regex; a value that does not match cannot match `find`."""
        ...

    def find(self, text: str) -> list[Match]:
        """Every validated match in `text` (validation included)."""
        ...


Validator = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class PatternDetector:
    """A regex whose matches are kept when `validate` accepts them.

    `group` selects the part of the regex match that is the value (0: all of
    it). `explanation` is the one-line reason shown with a finding.
    """

    name: str
    entity: str
    pattern: str
    prefilter: str
    explanation: str
    validate: Validator | None = None
    group: int | str = 0
    flags: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern, self.flags))

    def find(self, text: str) -> list[Match]:
        """Regex matches of the first `MAX_VALUE_LEN` characters, validated."""
        out: list[Match] = []
        for m in self._regex.finditer(text[:MAX_VALUE_LEN]):
            value = m.group(self.group)
            if not value:
                continue
            if self.validate is not None and not self.validate(value):
                continue
            out.append(Match(self.entity, value, self.explanation, detector=self.name))
        return out


@dataclass(frozen=True, slots=True)
class CompositeDetector:
    """Several detectors registered under one entity (e.g. the kinds of SECRET).

    Its prefilter is the alternation of the parts' prefilters; `find` returns
    the parts' matches in registration order.
    """

    name: str
    entity: str
    parts: Sequence[Detector]

    @property
    def prefilter(self) -> str:
        """Alternation of the parts' prefilters."""
        return "|".join(f"(?:{p.prefilter})" for p in self.parts)

    def find(self, text: str) -> list[Match]:
        """Matches of every part, in registration order."""
        out: list[Match] = []
        for part in self.parts:
            out.extend(part.find(text))
        return out
