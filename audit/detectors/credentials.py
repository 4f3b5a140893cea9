"""Credentials: SECRET (tokens, passwords, keys).

Examples flagged::

    "Authorization: Bearer eyJ0eXAiOiJKV1Qi..."          bearer token
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"           JWT (header decodes to JSON with "alg")
    "password=hunter22", "pwd: s3cret", "Password=x1y2;" password assignment
    "AKIAIOSFODNN7EXAMPLE"                               AWS access key id
    "AccountKey=abcd...==", "...&sig=abc%2Bdef..."       Azure storage key / SAS signature
    "-----BEGIN RSA PRIVATE KEY-----"                    private key block
    "https://svc:p4ss@db.contoso.com"                    credentials in a URL

Not flagged: an opaque base64 id such as the ConversationThreadID
``AdDO8hsJqilU93hQHC3OZaPR2saEA==`` (no key word, no token structure), and
placeholder values (``password=***``, ``pwd=<redacted>``, ``password=null``).
Why: error logs and exceptions can carry what the client had in memory; the
practices allow IPs and SIP URIs in error data, never credentials.
"""

from __future__ import annotations

import json

from audit.detectors.base import CompositeDetector, PatternDetector
from audit.detectors.filters import b64decode_loose

_PLACEHOLDERS = frozenset(
    {"null", "none", "nil", "undefined", "empty", "redacted", "hidden", "masked", "removed",
     "true", "false", "yes", "no", "xxx", "xxxx", "****", "password", "changeme_not_set",
     "%s", "{0}", "{}", "?", "..."}
)


def _not_placeholder(value: str) -> bool:
    v = value.strip().strip("\"'").strip()
    if len(v) < 3 or v.lower() in _PLACEHOLDERS:
        return False
    if len(set(v)) == 1:  # "*****", "xxxxxx"
        return False
    if v.startswith(("<", "{", "$", "%")) and v.endswith((">", "}", "%")):
        return False  # <redacted>, {password}, ${PWD}, %PASSWORD%
    return not (v.startswith("[") and v.endswith("]"))


def _token_ok(value: str) -> bool:
    return len(value) >= 16 and len(set(value)) >= 6


def _valid_jwt(value: str) -> bool:
    header = value.split(".", 1)[0]
    data = b64decode_loose(header)
    if data is None:
        return False
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(obj, dict) and "alg" in obj


BEARER = PatternDetector(
    name="bearer-token",
    entity="SECRET",
    pattern=r"(?i:\bbearer)[ \t]{1,5}([A-Za-z0-9._~+/=-]{16,4096})",
    prefilter=r"(?i:bearer)[ \t]",
    explanation="SECRET via pattern (Authorization bearer token)",
    validate=_token_ok,
    group=1,
)

JWT = PatternDetector(
    name="jwt",
    entity="SECRET",
    pattern=r"\beyJ[A-Za-z0-9_-]{5,2048}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,2048}",
    prefilter=r"eyJ[A-Za-z0-9_-]{5,}\.",
    explanation="SECRET via pattern (JWT; header decodes to JSON with alg)",
    validate=_valid_jwt,
)

_KEYWORDS = (
    r"password|passwd|passphrase|pwd|pass|client_secret|clientsecret|secret_key|api_key|apikey"
    r"|api-key|access_token|refresh_token|auth_token|private_key"
)
PASSWORD = PatternDetector(
    name="password-assignment",
    entity="SECRET",
    pattern=(
        rf"(?i:\b(?:{_KEYWORDS}))[\"']?[ \t]{{0,3}}[=:][ \t]{{0,3}}[\"']?"
        r"([^\s\"';&,<>]{1,256})"
    ),
    prefilter=rf"(?i:(?:{_KEYWORDS})[\"']?[ \t]{{0,3}}[=:])",
    explanation="SECRET via pattern (password/secret assignment); value is not a placeholder",
    validate=_not_placeholder,
    group=1,
)

AWS_KEY = PatternDetector(
    name="aws-access-key",
    entity="SECRET",
    pattern=r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
    prefilter=r"(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}",
    explanation="SECRET via pattern (AWS access key id)",
)

AZURE_KEY = PatternDetector(
    name="azure-storage-key",
    entity="SECRET",
    pattern=r"(?i:\b(?:AccountKey|SharedAccessKey|SharedSecret)=)([A-Za-z0-9+/]{20,200}={0,2})",
    prefilter=r"(?i:(?:AccountKey|SharedAccessKey|SharedSecret)=)",
    explanation="SECRET via pattern (Azure storage / shared access key)",
    validate=_not_placeholder,
    group=1,
)

AZURE_SAS = PatternDetector(
    name="azure-sas-signature",
    entity="SECRET",
    pattern=r"(?:[?&]|\b)sig=([A-Za-z0-9%+/=]{16,256})",
    prefilter=r"sig=[A-Za-z0-9%+/=]{16}",
    explanation="SECRET via pattern (shared access signature sig= parameter)",
    validate=_token_ok,
    group=1,
)

PRIVATE_KEY = PatternDetector(
    name="private-key-block",
    entity="SECRET",
    pattern=r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----",
    prefilter=r"-----BEGIN [A-Z0-9 ]{0,64}PRIVATE KEY",
    explanation="SECRET via pattern (PEM private key block)",
)

URL_CREDENTIALS = PatternDetector(
    name="url-credentials",
    entity="SECRET",
    pattern=r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s:/?#@\"']{1,128}:([^\s/?#@\"']{1,128})@[\w.-]{1,253}",
    prefilter=r"://[^ \t\r\n\f\v:/?#@]{1,128}:[^ \t\r\n\f\v/?#@]{1,128}@",
    explanation="SECRET via pattern (user:password in a URL)",
    validate=_not_placeholder,
    group=1,
)

PARTS = (BEARER, JWT, PASSWORD, AWS_KEY, AZURE_KEY, AZURE_SAS, PRIVATE_KEY, URL_CREDENTIALS)

SECRET = CompositeDetector(name="secret", entity="SECRET", parts=PARTS)
