"""Credentials: SECRET (tokens, passwords, keys), from the secret catalogue.

Examples flagged (see ``secrets.yaml`` for every format)::

    "Authorization: Bearer eyJ0eXAiOiJKV1Qi..."          bearer token
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"           JWT (header decodes to JSON with "alg")
    "password=hunter22", "pwd: s3cret", "dbPassword := 'x1y2'" password assignment
    "API_KEY=...", "accessToken: ...", "--api-key ..."   key or token assignment
    "curl -u svc:p4ss", "Authorization: Token ..."      command lines, headers
    "AKIA" + 16 upper-case letters or digits             AWS access key id
    "ghp_...", "glpat-...", "xoxb-...", "sk_live_..."    vendor tokens (and hf_, dop_v1_, ...)
    "AccountKey=abcd...==", "...&sig=abc%2Bdef..."       Azure storage key / SAS signature
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow..."         private key block (with a body)
    "https://svc:p4ss@db.contoso.com"                    credentials in a URL

Not flagged: an opaque base64 id such as the ConversationThreadID
``AdDO8hsJqilU93hQHC3OZaPR2saEA==`` (no key word, no token structure), and
placeholder values (``password=***``, ``pwd=<redacted>``, ``password=null``,
``${API_KEY}``, ``AKIA...EXAMPLE``, ``changeme``, ``ghp_xxxx...``, ``abcdefgh12345678``,
``var.db_password``, ``real_key``), names that only read like a secret's (``public_key``,
``csrf_token``) or negate (``not_secret``, ``has_password``), and a JWT whose header is
no JSON with "alg".
Why: error logs and exceptions can carry what the client had in memory; the
practices allow IPs and SIP URIs in error data, never credentials, and census and
usage data carry no personal data at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from audit.detectors import multipattern
from audit.detectors.base import Match
from audit.detectors.catalogue import Entry, load


@dataclass(frozen=True, slots=True)
class CatalogueDetector:
    """SECRET as one Hyperscan pass over the catalogue's patterns.

    `find_many` is what a column scan uses (its distinct values at once); `find` is
    one text (a decoded copy, `detect_text`). `prefilter` is the alternation of the
    entries' keywords (and the patterns of entries without keywords): a text it does
    not hit cannot match.
    """

    name: str
    entity: str
    entries: tuple[Entry, ...]
    prefilter: str = field(init=False)

    def __post_init__(self) -> None:
        words = sorted({re.escape(k.lower()) for e in self.entries for k in e.keywords})
        bare = [f"(?:{e.pattern})" for e in self.entries if not e.keywords]
        object.__setattr__(self, "prefilter", "|".join([f"(?i:{'|'.join(words)})", *bare]))

    def find(self, text: str) -> list[Match]:
        """Every accepted match in `text`, in catalogue order."""
        return multipattern.scan(self.entries, [text])[0]

    def find_many(self, texts: Sequence[str]) -> list[list[Match]]:
        """`find` of each text, all scanned in one buffer."""
        return multipattern.scan(self.entries, texts)


SECRET = CatalogueDetector(name="secret", entity="SECRET", entries=load())


def warm() -> None:
    """Compile (or load from the cache) the catalogue's database in this process."""
    multipattern.warm(SECRET.entries)
