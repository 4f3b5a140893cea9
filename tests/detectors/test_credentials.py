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
        ("pwd: s3cret!", "password-assignment", "s3cret!"),
        ('{"passwd": "Tr0ub4dor"}', "password-assignment", "Tr0ub4dor"),
        ("Server=db;User ID=sa;Password=x1y2z3;", "password-assignment", "x1y2z3"),
        ("key AKIAQ3EGTW2NBTKR7DUM used", "aws-access-key", "AKIAQ3EGTW2NBTKR7DUM"),
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=q8Hd2LmZ7xWc4RtV+/pKe9Bn3JsYf6Ua==",
         "azure-storage-key", "q8Hd2LmZ7xWc4RtV+/pKe9Bn3JsYf6Ua=="),
        ("https://a.blob.core.windows.net/c?sv=2020-08-04&sig=Xk3%2Bm9QwLr7Tz2VbH5pNc%3D",
         "azure-sas-signature", "Xk3%2Bm9QwLr7Tz2VbH5pNc%3D"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "private-key-block",
         "-----BEGIN RSA PRIVATE KEY-----"),
        ("-----BEGIN PRIVATE KEY-----", "private-key-block", "-----BEGIN PRIVATE KEY-----"),
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
        "SNYK_TOKEN = '12345678-ABCD-ABCD-ABCD-1234567890AB'",
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
        "curl http://127.0.0.1:5000/file --user user:pass --digest",
        "curl -u <user:password> https://test.com/endpoint",
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
     "AccountKey=" + "A" * 100_000],
)
def test_linear_time_on_crafted_input(crafted: str, assert_fast: Callable[..., None]) -> None:
    assert_fast(SECRET.find, crafted)
