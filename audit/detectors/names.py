"""Person names in device names and free text: PERSON_NAME.

Examples flagged::

    "Amos Marble's iPhone", "Priya’s iPad" (typographic apostrophe),
    "Amos Marble's Surface", "iPhone de Marie", "Galaxy von Jan"

In free text, names the gazetteer knows (:mod:`audit.detectors.gazetteer`)::

    "Amos Marble joined", "Richard P. Feynman", "Priya Devi Kumar"   (first name, surname)
    "my name is Priya", "call me Amos"                               (an introduction)
    "Mr. Marble", "Dr Kumar"                                         (a title)

Not flagged: ``EN-US``, ``iPhone``, ``iPhoneSkype``, ``Surface Pro 9``,
``Windows 11``, ``Today's agenda``, ``Microsoft's service``, ``Will Call``,
``San Francisco``, ``Microsoft Teams``.
Why: users name their devices after themselves and the OS puts that name in
telemetry; a bare capitalised word is far too noisy, so only the
possessive ``<Name>'s <Device>`` / ``<Name> <Surname>'s <anything>`` and the
``<Device> de/von/di <Name>`` forms, a known first name followed by a known surname
(an initial or a middle name between them), a known name after ``my name is`` and a
capitalised name after a title are flagged.
"""

from __future__ import annotations

import re

from audit.detectors.base import MAX_VALUE_LEN, Match
from audit.detectors.gazetteer import COMMON_WORDS, PRODUCTS, names


def _lower_words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in text.split())


DEVICE_WORDS = _lower_words(
    """
    iPhone iPad iPod iMac Mac MacBook Macbook Watch AppleWatch Galaxy Pixel Nexus Phone
    Smartphone Tablet Laptop Notebook Desktop PC Computer Surface ThinkPad IdeaPad XPS
    Chromebook Android Kindle Fire Echo Device Xperia Moto OnePlus Huawei Redmi Lumia
    Workstation Server HomePod AirPods Pad Tab Note Yoga Inspiron Latitude Envy Spectre
    """
)

# Capitalised words that end in 's but are not people.
NOT_NAMES = _lower_words(
    """
    Microsoft Apple Google Samsung Skype Teams Windows Office Outlook Android Dell Lenovo HP
    Huawei Sony Amazon Facebook Meta Intel Nvidia Today Tomorrow Yesterday World Company
    User Users Admin Administrator Owner Guest Someone Everyone Anyone Nobody Customer
    Client Server Device System Team Org Organization Tenant Contoso Fabrikam Mom Dad
    Family Kids Kid Home Work Office Shared Public Default Test Demo Lab Its It This That
    January February March April May June July August September October November December
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Year Week Day Month
    Let Here There What Who Where When How Now
    """
)

_WORD = r"[^\W\d_][^\W\d_'’-]{1,24}"
_POSSESSIVE = re.compile(
    rf"(?<![\w'’])({_WORD}(?:[ -]{_WORD}){{0,2}})['’]s[ \t]{{1,3}}([^\W_][\w-]{{0,30}})"
)
_OF_NAME = re.compile(
    rf"(?i:\b(?:{'|'.join(sorted(DEVICE_WORDS))})\b)[\w ]{{0,20}}?[ \t](?:de|von|di|da|do|van)"
    rf"[ \t]{{1,3}}({_WORD}(?:[ -]{_WORD}){{0,1}})(?![\w])"
)


def _is_name_word(word: str) -> bool:
    return (
        word[0].isupper()
        and (len(word) == 1 or not word[1:].isupper())
        and not any(c.isdigit() for c in word)
        and word.lower() not in NOT_NAMES
        and word.lower() not in DEVICE_WORDS
    )


#: A capitalised word standing alone (not inside ``iPhoneSkype`` or ``McDonald``), or an
#: initial with its full stop.
_TOKEN = re.compile(r"(?<![\w'’.-])(?:[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’-]{1,24}(?![\w@])|[A-Z]\.)")
_TITLE = re.compile(
    r"(?<![\w.])(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra)\.?[ \t]{1,3}"
    r"([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’-]{1,24})(?![\w@])"
)
_INTRO = re.compile(
    r"(?i:\b(?:my name is|name is|call me|named|i am|i'm))[ \t]{1,3}"
    r"([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’-]{1,24})(?![\w@])"
)


class PersonNameDetector:
    """PERSON_NAME in possessive device names and ``<Device> de <Name>`` forms, and in
    free text where the gazetteer or a title or introduction says it is a name."""

    name = "person-name"
    entity = "PERSON_NAME"
    prefilter = (
        r"['’]s[ \t]|[ \t](?:de|von|di|da|do|van)[ \t]"
        r"|[A-Z][a-zß-ÿ'’-]+[ \t]{1,3}(?:[A-Z]\.[ \t]{1,3})?[A-Z][a-zß-ÿ]"
        r"|(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra)\.?[ \t]{1,3}[A-Z]"
        r"|(?i:name is|call me|named|i am|i'm)[ \t]{1,3}[A-Z]"
    )

    def find(self, text: str) -> list[Match]:
        """Possessive and prepositional device-name patterns, checked word by word."""
        text = text[:MAX_VALUE_LEN]
        out: list[Match] = []
        pos = 0
        while (m := _POSSESSIVE.search(text, pos)) is not None:
            # A rejected candidate may hide a real one ("Today's Amos Marble's"): retry
            # just after its first word rather than after the whole match.
            pos = m.end() if m.end() > m.start() else m.start() + 1
            first_end = m.start(1) + len(re.split(r"[ '’-]", m.group(1))[0])
            words = re.split(r"[ -]", m.group(1))
            # "Today's Amos Marble's" style prefixes: keep the trailing name words only.
            while words and not _is_name_word(words[0]):
                words.pop(0)
            if not words or not all(_is_name_word(w) for w in words):
                pos = first_end + 1
                continue
            following = m.group(2).lower()
            if len(words) >= 2:
                why = "PERSON_NAME via pattern (<Name> <Surname>'s …)"
            elif following.rstrip("0123456789") in DEVICE_WORDS:
                why = "PERSON_NAME via pattern (<Name>'s <device>)"
            else:
                pos = first_end + 1
                continue
            value = m.group(0)[m.group(0).find(words[0]) :]
            out.append(Match(self.entity, value, why, detector=self.name))
        for m in _OF_NAME.finditer(text):
            words = re.split(r"[ -]", m.group(1))
            if words and all(_is_name_word(w) for w in words):
                why = "PERSON_NAME via pattern (<device> de/von <Name>)"
                out.append(Match(self.entity, m.group(0), why, detector=self.name))
        if not out:
            out.extend(_in_free_text(text))
        return out


def _in_free_text(text: str) -> list[Match]:
    """Known first name + known surname (an initial or a middle name between), a
    capitalised name after a title, a known name after an introduction."""
    # after a title any capitalised word is a surname ("Mr. May"), but for a product
    out = [Match("PERSON_NAME", m.group(0), "PERSON_NAME via pattern (a title and a name: "
                 "Mr. <Name>)", detector="person-name")
           for m in _TITLE.finditer(text)
           if m.group(1) not in PRODUCTS and m.group(1).lower() not in DEVICE_WORDS]
    intros = list(_INTRO.finditer(text))
    tokens = [(t.start(), t.end(), t.group(0)) for t in _TOKEN.finditer(text)]
    # a pair's first word that may be a first name ("Surface Pro" has none): without one
    # the name lists are not even loaded
    starts = [k for k in range(len(tokens) - 1)
              if _maybe_name(tokens[k][2]) and _blank(text, tokens[k][1], tokens[k + 1][0])]
    if not starts and not intros:
        return out
    first, last = names()
    out.extend(Match("PERSON_NAME", m.group(1), "PERSON_NAME via gazetteer (a known name "
                     "after \"my name is\")", detector="person-name")
               for m in intros if m.group(1) in first or m.group(1) in last)
    after = -1  # the last token of the name found last
    for k in starts:
        if k <= after or tokens[k][2] not in first:
            continue
        end = _full_name(text, tokens, k, first, last)
        if end is not None:
            out.append(Match("PERSON_NAME", text[tokens[k][0]:tokens[end][1]], "PERSON_NAME "
                             "via gazetteer (a known first name and surname)",
                             detector="person-name"))
            after = end
    return out


def _maybe_name(word: str) -> bool:
    return not word.endswith(".") and word not in COMMON_WORDS \
        and word.lower() not in DEVICE_WORDS


def _full_name(text: str, tokens: list[tuple[int, int, str]], k: int,
               first: frozenset[str], last: frozenset[str]) -> int | None:
    """Index of the token that ends the name starting at ``tokens[k]`` (a first name):
    the one after an initial or a middle name when it is a surname, else the next token
    when it is one; only blanks between them."""
    found = None
    for j in (k + 1, k + 2):
        if j >= len(tokens) or not _blank(text, tokens[j - 1][1], tokens[j][0]):
            break
        word = tokens[j][2]
        if word in last and not word.endswith("."):
            found = j
    return found


def _blank(text: str, start: int, end: int) -> bool:
    gap = text[start:end]
    return 1 <= len(gap) <= 3 and not gap.strip(" \t")


PERSON_NAME = PersonNameDetector()
