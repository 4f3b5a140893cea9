"""URLs whose query or path names the user in clear text: parts of ACCOUNT_ID.

Examples flagged::

    "https://x.example/api?userId=amosm&v=2"            (a user-id parameter, not opaque)
    "https://x.example/find?email=amos.marble"          (an e-mail parameter, even partial)
    "https://x.example/people/amos.marble/photo"        (a user path segment, first.last)

Not flagged: ``?userId=<GUID>``, ``?userId=<hex digest>``, ``?userId=12345`` (opaque
or numeric ids: the identifier rules judge those), ``/users/me``, ``/users/count``,
``/users/index.html``, ``/users/contoso.com``.

Why: an e-mail address, SIP URI, phone number, Teams user id (``8:orgid:``) or known
identity in a URL is found by its own detector once the URL is decoded (see
:mod:`audit.detectors.decode`); what none of them sees is a plain user name where the
URL says a user goes. ``?upn=``, ``?login_hint=`` and ``?username=`` are in
:mod:`audit.detectors.accounts`; a bare ``?user=`` is too common to trust.
"""

from __future__ import annotations

import re

from audit.detectors._domains import is_domain
from audit.detectors.base import PatternDetector

_PLACEHOLDERS = frozenset({
    "null", "undefined", "none", "me", "self", "anonymous", "user", "guest", "true", "false",
    "default", "current", "unknown", "redacted", "hidden", "empty", "n/a", "na", "nil",
})
_OPAQUE = re.compile(r"[{(]?[0-9A-Fa-f-]+[})]?|\d+|[A-Za-z0-9+/_=-]{20,}")


def _cleartext(value: str) -> bool:
    """A value that reads as a user's name or address, not an opaque or numeric id."""
    v = value.strip()
    low = v.lower()
    if len(v) < 3 or low in _PLACEHOLDERS or low.startswith(("{", "%7b", "$", "<", "%3c", "*")):
        return False
    if not any(c.isalpha() for c in v):
        return False
    # an opaque id: a GUID or digest, digits only, or a long token without a separator
    return not (_OPAQUE.fullmatch(v) and not any(c in v for c in ".@%"))


_PARAMS = (
    r"user_?id|e_?mail(?:_?address)?|mail|login(?:_?name)?|sign_?in_?name|account_?name"
    r"|display_?name|sip_?address"
)

URL_USER_QUERY = PatternDetector(
    name="url-user-query",
    entity="ACCOUNT_ID",
    pattern=rf"[?&](?i:{_PARAMS})=([^&#\s\"'<>]{{1,128}})",
    prefilter=rf"[?&](?i:{_PARAMS})=",
    explanation="ACCOUNT_ID via pattern (a URL query parameter naming the user in clear text)",
    validate=_cleartext,
    group=1,
)

#: File extensions and words a ``<word>.<word>`` path segment may end with that make it
#: no user name.
_NOT_NAME_ENDS = frozenset({
    "html", "htm", "json", "xml", "aspx", "asp", "php", "js", "css", "png", "jpg", "jpeg",
    "gif", "svg", "txt", "csv", "pdf", "ico", "zip", "read", "write", "all", "list", "count",
})


def _user_segment(value: str) -> bool:
    last = value.rsplit(".", 1)[-1].rsplit("_", 1)[-1].lower()
    return last not in _NOT_NAME_ENDS and not is_domain(value.lower())


URL_USER_PATH = PatternDetector(
    name="url-user-path",
    entity="ACCOUNT_ID",
    pattern=(
        r"/(?i:users?|people|profiles?|members?|accounts?|u)/"
        r"([A-Za-z][A-Za-z'-]{0,40}[._][A-Za-z][A-Za-z'-]{0,40})(?=[/?#]|$)"
    ),
    prefilter=r"/(?i:users?|people|profiles?|members?|accounts?|u)/[A-Za-z][A-Za-z'-]*[._]",
    explanation="ACCOUNT_ID via pattern (a URL path naming the user: first.last)",
    validate=_user_segment,
    group=1,
)
