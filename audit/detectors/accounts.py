"""Account identifiers: XUID (Xbox user ids) and ACCOUNT_ID (other ids of a user's account).

Examples flagged by shape alone::

    XUID        "2533274801234567", "x:2535411234567890"  (16 digits, Xbox Live's range)
    ACCOUNT_ID  "8:orgid:0b6f2a52-…"                      (a Teams/Skype user id, MRI)
                "w:72C1D0E4-…"                            (a 1DS Windows user local id)
                "C:\\Users\\amosm\\AppData\\Local", "/home/amosm/.config"  (a profile path)
                "https://contoso-my.sharepoint.com/personal/amos_marble_contoso_com/…"
                "https://login.example/authorize?login_hint=amosm"
                "https://x.example/api?userId=amosm", "https://x.example/people/amos.marble"

Not flagged: other 16-digit numbers (a Unix time in microseconds, a counter), a decimal
number glued to a dot (``0.2533274801234567``), the shared profiles (``Public``,
``Default``, ``All Users``) and placeholders such as ``%USERNAME%``; an e-mail address
is EMAIL's (and an encoded one is found after decoding, see :mod:`audit.detectors.decode`).

Why: each of these names one user account even though it is not an e-mail address, a
SIP URI or a person's name; census data may carry none, usage data none either.
"""

from __future__ import annotations

from audit.detectors.base import GUID_TEXT, CompositeDetector, PatternDetector
from audit.detectors.urls import URL_USER_PATH, URL_USER_QUERY

#: Xbox Live user ids: 0x0009000000000000 to 0x0009FFFFFFFFFFFF, written in decimal.
XUID_MIN = 0x0009_0000_0000_0000
XUID_MAX = 0x0009_FFFF_FFFF_FFFF


def is_xuid(value: str) -> bool:
    """A decimal number in the range of Xbox Live user ids."""
    digits = value.rpartition(":")[2]
    return digits.isdigit() and XUID_MIN <= int(digits) <= XUID_MAX


XUID = PatternDetector(
    name="xuid",
    entity="XUID",
    pattern=r"(?<![A-Za-z0-9.])(?:x:)?2[5-8]\d{14}(?![A-Za-z0-9]|\.\d)",
    prefilter=r"2[5-8]\d{14}",
    explanation="XUID via pattern (16 digits in the range of Xbox Live user ids)",
    validate=is_xuid,
)

_GUID = GUID_TEXT

_MRI = PatternDetector(
    name="user-mri",
    entity="ACCOUNT_ID",
    pattern=rf"(?<![A-Za-z0-9])8:(?:orgid:{_GUID}|live:[A-Za-z0-9._-]{{3,64}}"
    r"|teamsvisitor:[0-9A-Fa-f]{16,64})",
    prefilter=r"8:(?:orgid|live|teamsvisitor):",
    explanation="ACCOUNT_ID via pattern (a Teams or Skype user id: an MRI, 8:orgid: or 8:live:)",
)

_WINDOWS_USER = PatternDetector(
    name="user-local-id",
    entity="ACCOUNT_ID",
    pattern=rf"(?<![A-Za-z0-9])w:\{{?{_GUID}\}}?(?![0-9A-Fa-f-])",
    prefilter=rf"w:\{{?{_GUID}",
    explanation="ACCOUNT_ID via pattern (a w: user local id: the Windows user's id)",
)

#: Profile folders that belong to no one user, lower-cased.
SHARED_PROFILES = frozenset({
    "public", "default", "default user", "all users", "defaultuser0", "defaultuser100000",
    "administrator", "shared", "guest", "wdagutilityaccount", "runneradmin", "username",
    "user", "<user>", "{user}", "$user", "%username%", "*", "...", "..",
})


def _personal(value: str) -> bool:
    name = value.strip().lower()
    return bool(name) and name not in SHARED_PROFILES and not name.startswith(("%", "$", "{"))


# A user's profile folder: C:\Users\<name>\, /Users/<name>/ (macOS), /home/<name>/.
_PROFILE = PatternDetector(
    name="profile-path",
    entity="ACCOUNT_ID",
    pattern=(
        r"(?:(?<![A-Za-z0-9])[A-Za-z]:[\\/]{1,2}(?i:users|documents and settings)[\\/]{1,2}"
        r"|(?:^|(?<=[\s\"'=,;(])|(?<=file:/)|(?<=file://))/(?:Users|home)/)"
        r"([^\\/:*?\"<>|\r\n\t]{1,64})(?=[\\/]|$|[\s\"',;)])"
    ),
    prefilter=r"(?i:[A-Za-z]:[\\/]{1,2}(?:users|documents and settings)[\\/])|/(?:Users|home)/",
    explanation="ACCOUNT_ID via pattern (a user's profile folder in a path)",
    validate=_personal,
    group=1,
)

# OneDrive for Business: the personal site's path spells the user's UPN.
_PERSONAL_SITE = PatternDetector(
    name="personal-site",
    entity="ACCOUNT_ID",
    pattern=r"(?i:/personal/)([a-z0-9][a-z0-9._-]{0,100}_[a-z0-9-]{1,63}_[a-z]{2,24})(?![a-z0-9._-])",
    prefilter=r"(?i:/personal/[a-z0-9][a-z0-9._-]*_)",
    explanation="ACCOUNT_ID via pattern (a OneDrive personal site, named after the user's UPN)",
    group=1,
)

_PLACEHOLDERS = frozenset({"null", "undefined", "none", "me", "self", "anonymous", "user"})


def _query_user(value: str) -> bool:
    v = value.lower()
    return len(v) >= 3 and any(c.isalpha() for c in v) and v not in _PLACEHOLDERS \
        and not v.startswith(("{", "%7b", "$", "<", "%3c"))


# A query parameter naming the user: ?login_hint=…, &upn=…, &username=….
_QUERY = PatternDetector(
    name="user-query",
    entity="ACCOUNT_ID",
    pattern=(
        r"[?&;](?i:upn|login_?hint|user_?name|userprincipalname)="
        r"([^&#\s\"'<>]{1,128})"
    ),
    prefilter=r"[?&;](?i:upn|login_?hint|user_?name|userprincipalname)=",
    explanation="ACCOUNT_ID via pattern (a URL query parameter naming the user)",
    validate=_query_user,
    group=1,
)


ACCOUNT_ID = CompositeDetector(
    name="account-id",
    entity="ACCOUNT_ID",
    parts=(_MRI, _WINDOWS_USER, _PROFILE, _PERSONAL_SITE, _QUERY, URL_USER_QUERY, URL_USER_PATH),
)
