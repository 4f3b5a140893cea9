"""SECRET: tokens, passwords and keys; opaque ids are not secrets."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from audit.detectors.credentials import SECRET


def _jwt(header: dict[str, str]) -> str:
    def enc(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc(header)}.{enc({'sub': '1234567890'})}.c2lnbmF0dXJlX2J5dGVz"


JWT = _jwt({"alg": "HS256", "typ": "JWT"})


@pytest.mark.parametrize(
    ("text", "detector", "expected"),
    [
        ("Authorization: Bearer q7RfK2mWx9ZtLp4VbN8cHj", "bearer-token", "q7RfK2mWx9ZtLp4VbN8cHj"),
        (f"token {JWT} expired", "jwt", JWT),
        ("password=hunter22", "password-assignment", "hunter22"),
        # a typed sequence stands in for a generated key, but a chosen password may be one
        ("password=12345678", "password-assignment", "12345678"),
        ("curl -u ops:12345678 https://contoso.com", "curl-user", "ops:12345678"),
        # row_key is ignored as a name, not as the end of escrow_key
        ("escrow_key: 9f8e7d6c5b4aQ1w2e3r4", "key-variable-assignment", "9f8e7d6c5b4aQ1w2e3r4"),
        ("pwd: s3cret!", "password-assignment", "s3cret!"),
        ('{"passwd": "Tr0ub4dor"}', "password-assignment", "Tr0ub4dor"),
        ("Server=db;User ID=sa;Password=x1y2z3;", "password-assignment", "x1y2z3"),
        ("key AKIAQ3EGTW2NBTKR7DUM used", "aws-access-key", "AKIAQ3EGTW2NBTKR7DUM"),
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=q8Hd2LmZ7xWc4RtV+/pKe9Bn3JsYf6Ua==",
         "azure-storage-key", "q8Hd2LmZ7xWc4RtV+/pKe9Bn3JsYf6Ua=="),
        ("https://a.blob.core.windows.net/c?sv=2020-08-04&sig=Xk3%2Bm9QwLr7Tz2VbH5pNc%3D",
         "azure-sas-signature", "Xk3%2Bm9QwLr7Tz2VbH5pNc%3D"),
        ("dbPassword: 'Tr0ub4dor&3'", "password-assignment", "Tr0ub4dor&3"),
        ('"oktaApiToken": "00ebR4zSNkyc6dimLvUwq4KpTEop-PCEnnfSTpD3"', "key-variable-assignment",
         "00ebR4zSNkyc6dimLvUwq4KpTEop-PCEnnfSTpD3"),
        ("SNYK_TOKEN ?= 'f3c9a1e7-52bd-4e08-9a6c-d1b7e4f02c95'", "key-variable-assignment",
         "f3c9a1e7-52bd-4e08-9a6c-d1b7e4f02c95"),
        ("--softlayer-api-key 9f2c41d8e7b3a5609c1d4e8f2a7b3c5d", "cli-secret-option",
         "9f2c41d8e7b3a5609c1d4e8f2a7b3c5d"),
        ("curl --user 'ops:h0pk1ns~21s' https://api.contoso.com", "curl-user", "ops:h0pk1ns~21s"),
        ("xoxb-263594206564-FGqddMF8t08v8N7Oq4i57vs1", "slack-token",
         "xoxb-263594206564-FGqddMF8t08v8N7Oq4i57vs1"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx3", "private-key-block",
         "-----BEGIN RSA PRIVATE KEY-----"),
        # a body after Proc-Type/DEK-Info lines, with the line breaks escaped (a JSON log)
        ("-----BEGIN RSA PRIVATE KEY-----\\nProc-Type: 4,ENCRYPTED\\nDEK-Info: AES-128-CBC,"
         "5F2E\\n\\nq9Xk2mV7rT4bN8cLp3Wz", "private-key-block", "-----BEGIN RSA PRIVATE KEY-----"),
        # a typed run inside a longer key is part of the key, not a stand-in for one
        ("ops_api_key: 'abcdef0123456789ABCDEF9876543210fedcba'", "key-variable-assignment",
         "abcdef0123456789ABCDEF9876543210fedcba"),
        ("DEPLOY_TOKEN ::= '9876ABCD-0123-4567-89AB-CDEF01234567'", "key-variable-assignment",
         "9876ABCD-0123-4567-89AB-CDEF01234567"),
        ("postgres://svc:p4ssw0rd@db.contoso.com:5432/x", "url-credentials", "p4ssw0rd"),
    ],
)
def test_secret_found(text: str, detector: str, expected: str) -> None:
    found = {(m.detector, m.value) for m in SECRET.find(text)}
    assert (detector, expected) in found


@pytest.mark.parametrize(
    "text",
    [
        "AdDO8hsJqilU93hQHC3OZaPR2saEA==",  # DESIGN: a ConversationThreadID is not a secret
        "E296D735-4F36-4E18-7C3B-52E1A02A0164",
        "password=***",
        "pwd=<redacted>",
        "password=null",
        "Password=;",
        "password: ${DB_PASSWORD}",
        "Bearer short",
        "eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiIxIn0.x",  # header has no "alg"
        "https://contoso.com/path?sig=short",
        "https://user@contoso.com/",
        "-----BEGIN PUBLIC KEY-----",
        "Incoming",
        "Idle",
        "key AKIAIOSFODNN7EXAMPLE used",  # AWS's documentation example is a placeholder
        # typed sequences, held keys, masks inside tokens and references are stand-ins
        "api_key = 'abcdefghijklmnopqrstuvwxyz123'",
        "deploy_token = 'abcdefgh12345678'",  # the run is half the value
        "-----BEGIN PRIVATE KEY-----",  # a header without a key body
        "-----BEGIN PRIVATE KEY-----\nour key goes here\n-----END PRIVATE KEY-----",
        # a header that is no base64 of JSON with "alg" (damaged by hand) is no JWT
        "eyJhbGciOiJIUzI1NiJ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        # names that negate or ask hold a flag; a lower-case identifier is a variable
        "not_secret = Qm8vTz4Lp2",
        "has_password: Qm8vTz4Lp2",
        "password: shared_vault_entry",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "key AKIAZZZZZZZZZZZZZZZZ used",
        "administrator_login_password = var.db_password",
        "JFROG_SECRET = $(cat /run/secrets/jfrog_secret)",
        "SUMO_ACCESS_KEY=`etcdctl get /sumologic_secret`",
        "access_token=ACCESS_TOKEN",
        "CLOUD_APIKEY: 'insert_key_here'",
        "fake-cloud-iam-key= 'not_long_enough'",
        "export OP_SERVICE_ACCOUNT_TOKEN=ops_eyJzaWduSW5BZGRyZXNzIjoiaHR0cHM6...",
        "password: ENC[AES256_GCM,data:W3PiZ6l,iv:Mk2,tag:q1,type:str]",
        "password = ,.:-@*?!",
        "bucket_key: SalesResults-1.2",
        "cache-key: v1-deps-9f8e7d6c5b4a",  # ignore_names hold whatever the separators
        "csrfToken=Mj2qykJO5rELyHgezQ69nzUX0i3OH67V",
        "csrf-token=Mj2qykJO5rELyHgezQ69nzUX0i3OH67V7+V4eUrLfpuyOuxmiW9rhROG/Whikle15==",
        "curl http://127.0.0.1:5000/file --user user:pass --digest",
        "curl -u <user:password> https://test.com/endpoint",
        "xoxp-1234-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d",  # ids too short for Slack's
        "https://indieweb.org/images/3/35/2018-250-xoxo-indieweb-1.jpg",
        "sk-proj-Xi8tdMjHV6pmbBbwilTeT4BlbkFJ3UDnpdEwNNm6wVBpYM0o",  # no T3BlbkFJ
        "s3 key: 4~q8Q~3wIHjX9DT0yCNfQmr9oxmYrDZoQVLOdNg~yk0,AQACAAE",  # part of a longer run
    ],
)
def test_secret_not_found(text: str) -> None:
    assert SECRET.find(text) == []


def test_explanation_never_holds_the_secret() -> None:
    for m in SECRET.find(f"password=hunter22 Bearer {JWT}"):
        assert m.value not in m.explanation


@pytest.mark.parametrize(
    "crafted",
    ["password=" * 12_000, "Bearer " * 15_000, "eyJ" + "a" * 100_000, "eyJa." * 20_000,
     "a://" + "b" * 100_000, "a://b:" * 20_000, "-----BEGIN " + "A " * 50_000, "sig=" * 25_000,
     "AccountKey=" + "A" * 100_000, "a_password" * 10_000, '"x" == ' * 15_000,
     "-u a:" * 20_000, " --token " * 12_000, "Authorization: Token " * 5_000,
     '<add key="password" value="' * 4_000, ";password=" * 10_000, "//a/:_authToken=" * 7_000,
     "xoxb-123456-" * 9_000, "api_key=`" + "a " * 50_000, "1" * 15 + "|" + "a" * 100_000,
     " -H 'Token: " * 9_000, "-----BEGIN PRIVATE KEY-----\\n" * 4_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    assert_fast(SECRET.find, crafted)
