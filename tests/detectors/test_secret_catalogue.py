"""The secret catalogue: a positive and a negative sample for every entry, the file's
schema errors with file:line, and the Hyperscan matcher's mapping of matches to values.

Samples are built here from a seeded generator (random-looking, never real keys),
following each vendor's published token format.
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import audit
from audit.checks import CHECK_KINDS
from audit.context import ScanContext
from audit.detectors import multipattern
from audit.detectors.catalogue import CATALOGUE, Entry, load, parse
from audit.detectors.credentials import SECRET
from audit.errors import RuleFileError
from audit.model import Stage

_RNG = random.Random(20261207)
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"


def rand(n: int, alphabet: str = ALNUM) -> str:
    """n characters of ``alphabet`` from the seeded generator, with upper and lower case
    and a digit when the alphabet has them (as real keys do)."""
    while True:
        s = "".join(_RNG.choice(alphabet) for _ in range(n))
        kinds = [set(k) & set(alphabet) for k in (string.ascii_uppercase,
                                                  string.ascii_lowercase, string.digits)]
        if all(not k or set(s) & k for k in kinds):
            return s


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def jwt(header: dict[str, str], signature: str) -> str:
    def enc(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc(header)}.{enc({'sub': 'device-42', 'iat': '1767225600'})}.{signature}"


def uuid4() -> str:
    h = rand(32, "0123456789abcdef")
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


_SNOWFLAKE = "".join(_RNG.choice(string.digits[1:]) for _ in range(18))
_AWS_ID = "AKIA" + rand(16, string.ascii_uppercase + string.digits)
_STRIPE = "sk_live_" + rand(24)
_SLACK = f"xoxb-{rand(11, string.digits)}-{rand(12, string.digits)}-{rand(24)}"
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
_HEX32 = rand(32, HEX)
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

#: id → (text with a secret, the value reported, text without one). Every catalogue
#: entry needs a row: `test_every_entry_has_samples` fails for one that has none.
SAMPLES: dict[str, tuple[str, str, str]] = {
    # a header needs the start of a base64 body after it: around words it holds no key
    "private-key-block": ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBq7Vd3kR9",
                          "-----BEGIN EC PRIVATE KEY-----",
                          "-----BEGIN EC PRIVATE KEY-----\nnot pasted\n"
                          "-----END EC PRIVATE KEY-----"),
    "gcp-service-account-key": (
        '{"type": "service_account", "private_key": '
        '"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkq"}',
        "-----BEGIN PRIVATE KEY-----",
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n..."}'),
    "aws-access-key": (f"using key {_AWS_ID} in eu-west-1", _AWS_ID,
                       "using key AKIAIOSFODNN7EXAMPLE in eu-west-1"),
    "aws-secret-access-key": (
        f"aws_secret_access_key = {(k := rand(40, ALNUM + '/+'))}", k,
        "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}"),
    "azure-storage-key": (
        "DefaultEndpointsProtocol=https;AccountName=acct;"
        f"AccountKey={(k := b64(_RNG.randbytes(64)))};EndpointSuffix=core.windows.net", k,
        "AccountName=acct;AccountKey=XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX=="),
    "azure-sas-signature": (
        f"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig={(k := rand(43) + '%3D')}",
        k, "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=short"),
    "azure-ad-client-secret": (f"client secret {(k := rand(3) + '8Q~' + rand(34, URLSAFE))}", k,
                               "client secret abc8Q~" + "a" * 34),
    "gcp-api-key": (f"https://maps.example/api?key={(k := 'AIza' + rand(35, URLSAFE))}", k,
                    "AIza is not a key on its own: AIzaShort"),
    "github-token": (f"remote token {(k := 'ghp_' + rand(36))}", k, "ghp_tooShort123"),
    "github-fine-grained-token": (f"{(k := 'github_pat_' + rand(22) + '_' + rand(59))}", k,
                                  "github_pat_notatoken"),
    "gitlab-token": (f"PRIVATE-TOKEN {(k := 'glpat-' + rand(20, URLSAFE))}", k,
                     "glpat-" + "a" * 20),
    "slack-token": (f"slack {_SLACK}", _SLACK, "xoxb-123"),
    "slack-webhook": (
        (k := f"https://hooks.slack.com/services/T{rand(8, string.ascii_uppercase)}"
              f"/B{rand(10, string.ascii_uppercase)}/{rand(24)}"), k,
        "https://hooks.slack.com/services/"),
    "discord-bot-token": (
        (k := base64.b64encode(_SNOWFLAKE.encode()).decode().rstrip("=")
              + "." + rand(6, URLSAFE) + "." + rand(38, URLSAFE)), k,
        base64.b64encode(b"1abcdefghijklmnopq").decode() + ".abcdef." + rand(38)),
    "discord-webhook": (
        (k := f"https://discord.com/api/webhooks/{_SNOWFLAKE}/{rand(68, URLSAFE)}"), k,
        "https://discord.com/api/webhooks/123/abc"),
    "telegram-bot-token": (f"bot{(k := rand(10, string.digits) + ':AA' + rand(33))}/getMe", k,
                           "12345:AAbc"),
    "skype-token": (f"X-MS-SKYPE-TOKEN: {(k := rand(120, URLSAFE + '.'))}", k,
                    "Authentication: skypetoken=<token>"),
    "teams-incoming-webhook": (
        (k := f"https://contoso.webhook.office.com/webhookb2/{uuid4()}@{uuid4()}"
              f"/IncomingWebhook/{_HEX32}/{uuid4()}"), k, "https://contoso.webhook.office.com/"),
    "stripe-secret-key": (f"charge with {_STRIPE}", _STRIPE,
                          "publishable key pk_live_" + rand(24)),
    "anthropic-api-key": (f"x-api-key: {(k := 'sk-ant-api03-' + rand(95, URLSAFE))}", k,
                          "sk-ant-api03-short"),
    "openai-api-key": (
        f"OPENAI key {(k := 'sk-proj-' + rand(74, URLSAFE) + 'T3BlbkFJ' + rand(74, URLSAFE))}",
        k, "sk-" + rand(48)),
    "sendgrid-api-key": (f"{(k := 'SG.' + rand(22, URLSAFE) + '.' + rand(43, URLSAFE))}", k,
                         "SG.abc.def"),
    "npm-token": (f"//registry.npmjs.org/:_authToken {(k := 'npm_' + rand(36))}", k,
                  "npm_" + "a" * 36),
    "pypi-token": (f"{(k := 'pypi-AgEIcHlwaS5vcmc' + rand(150, URLSAFE))}", k,
                   "pypi-AgEIcHlwaS5vcmc" + rand(40, URLSAFE)),
    "jwt": ((k := jwt({"alg": "HS256", "typ": "JWT"}, rand(43, URLSAFE))), k,
            jwt({"typ": "JWT"}, rand(43, URLSAFE))),
    "jwt-unsigned": ((k := jwt({"alg": "none"}, "")), k, jwt({"typ": "JWT"}, "")),
    "url-credentials": (f"amqp://svc:{(k := rand(12))}@mq.contoso.com/vhost", k,
                        "https://user:${PASSWORD}@contoso.com/"),
    "bearer-token": (f"Authorization: Bearer {(k := rand(32))}", k, "Bearer realm=api"),
    "basic-auth": (f"Authorization: Basic {(k := b64(('svc-report:' + rand(12)).encode()))}", k,
                   'WWW-Authenticate: Basic realm="files"'),
    "digest-auth": (
        f'Authorization: Digest username="ana", realm="files", nonce="{rand(16)}", uri="/", '
        f'response="{_HEX32}"', _HEX32, 'WWW-Authenticate: Digest realm="files", nonce="abc"'),
    "key-variable-assignment": (f"export STORAGE_KEY='{(k := rand(32))}'", k,
                                "SORT_KEY: name_asc"),
    "password-assignment": ("passwd => 'Tr0ub4dor3'", "Tr0ub4dor3", "password: ********"),
    "password-comparison": ('if ("Gr33n-Lantern" === dbPassword) {', "Gr33n-Lantern",
                            'if ("changeme" == password) {'),
    "npmrc-auth": (f"//npm.contoso.com/repo/:_authToken={(k := uuid4())}", k,
                   "//registry.npmjs.org/:_authToken=${NPM_TOKEN}"),
    "huggingface-token": (f"login --token {(k := 'hf_' + rand(34, string.ascii_letters))}", k,
                          "hf_" + "x" * 34),
    "hashicorp-vault-token": (f"X-Vault-Token: {(k := 'hvs.' + rand(91, URLSAFE))}", k,
                              "hvs." + "x" * 91),
    "terraform-cloud-token": (f"{(k := rand(14) + '.atlasv1.' + rand(67, URLSAFE))}", k,
                              "x" * 14 + ".atlasv1." + "x" * 67),
    "databricks-token": (f"{(k := 'dapi' + rand(32, HEX))}", k, "dapi-cluster-01"),
    "digitalocean-token": (f"{(k := 'dop_v1_' + rand(64, HEX))}", k, "dop_v1_" + "0" * 64),
    "twilio-api-key": (f"api key {(k := 'SK' + rand(32, HEX))}", k, "SK" + "x" * 32),
    "mailgun-api-key": (f"api:{(k := 'key-' + rand(32, HEX))}", k, "key-value pairs"),
    "mailchimp-api-key": (f"{(k := rand(32, HEX) + '-us14')}", k, rand(32, HEX) + "-usa"),
    "shopify-token": (f"X-Shopify-Access-Token: {(k := 'shpat_' + rand(32, HEX))}", k,
                      "shpat_tooShort"),
    "heroku-api-key": (f"{(k := 'HRKU-AA' + rand(58, URLSAFE))}", k, "HRKU-" + "x" * 60),
    "linear-api-key": (f"{(k := 'lin_api_' + rand(40))}", k, "lin_api_tooShort"),
    "atlassian-api-token": (f"{(k := 'ATATT3xFfGF0' + rand(180, URLSAFE))}", k,
                            "ATATT3xFfGF0" + rand(20, URLSAFE)),
    "postman-api-key": (f"{(k := 'PMAK-' + rand(24, HEX) + '-' + rand(34, HEX))}", k,
                        "PMAK-" + rand(24, HEX)),
    "grafana-token": (f"{(k := 'glsa_' + rand(32) + '_' + rand(8, HEX))}", k,
                      "glc_" + "1" * 40 + "="),
    "datadog-key": (f"DD-API-KEY: {(k := rand(32, HEX))}", k, "DD_API_KEY=${DD_API_KEY}"),
    "new-relic-key": (f"{(k := 'NRAK-' + rand(27, string.ascii_uppercase + string.digits))}",
                      k, "NRAK-SHORT"),
    "doppler-token": (f"{(k := 'dp.pt.' + rand(43))}", k, "dp.pt.tooShort"),
    "planetscale-token": (f"{(k := 'pscale_tkn_' + rand(43, URLSAFE))}", k, "pscale_tkn_x"),
    "age-secret-key": (f"{(k := 'AGE-SECRET-KEY-1' + rand(58, _BECH32.upper()))}", k,
                       "recipient age1" + rand(58, _BECH32)),
    "sourcegraph-token": (f"{(k := 'sgp_' + rand(16, HEX) + '_' + rand(40, HEX))}", k,
                          "sgp_tooShort"),
    "flyio-token": (f"FLY_API_TOKEN: {(k := 'FlyV1 fm2_' + rand(200, B64))}", k,
                    "fo1_" + "x" * 43),
    "onepassword-token": (f"{(k := 'ops_eyJ' + rand(150, URLSAFE))}", k,
                          "A3-XXXXXX-XXXXXXXXXXX-XXXXX-XXXXX-XXXXX"),
    "sentry-token": (f"{(k := 'sntryu_' + rand(64, HEX))}", k, "sntryu_tooShort"),
    "notion-token": (f"{(k := 'ntn_' + rand(11, string.digits) + rand(35))}", k, "ntn_123"),
    "intra42-secret": (f"{(k := 's-s4t2ud-' + rand(64, HEX))}", k, "s-s4t2ud-tooShort"),
    "infracost-api-key": (f"INFRACOST_API_KEY {(k := 'ico-' + rand(32))}", k,
                          f"https://cdn.contoso.com/favicon.ico-{rand(32, HEX)}.png"),
    "square-token": (f"{(k := 'sq0csp-' + rand(43, URLSAFE))}", k, "sq0csp-tooShort"),
    "facebook-access-token": (f"access_token {(k := 'EAA' + rand(150))}", k, "EAABtooShort"),
    "sonarqube-token": (f"{(k := 'squ_' + rand(40, HEX))}", k, "squ_tooShort"),
    "docker-config-auth": (
        (k := b64(json.dumps({"auths": {"registry.contoso.com": {
            "auth": b64(("ci:" + rand(16)).encode())}}}).encode())), k,
        b64(json.dumps({"credHelpers": {"registry.contoso.com": "acr"}}).encode())),
    "bundler-credentials": (f"BUNDLE_GEMS__CONTOSO__COM={(k := 'ci-bot:' + rand(16))}", k,
                            "BUNDLE_GEMS__CONTOSO__COM=user:pass"),
    "estsauth-cookie": (
        f"Cookie: ESTSAUTHPERSISTENT={(k := rand(400, URLSAFE + '.'))}; buid=1", k,
        f"Cookie: ESTSAUTHLIGHT=+{uuid4()}"),
    "oauth-refresh-token": (f'{{"refresh_token": "{(k := "0.AR" + rand(300, URLSAFE + "."))}"}}',
                            k, '{"refresh_token": "<refresh token>"}'),
    "oauth-authorization-code": (
        f"https://app.contoso.com/signin?code={(k := '0.A' + rand(600, URLSAFE))}&state=8f2", k,
        "https://contoso.com/promo?code=SPRING24"),
    "authorization-header": (f"Authorization: Token {(k := rand(40))}", k,
                             "Authorization: required"),
    "curl-user": (f"curl -u {(k := 'deploy:' + rand(14))} https://api.contoso.com/", k,
                  "docker run -u 1000:1000 contoso/app"),
    "config-key-value": (f'<add key="ClearTextPassword" value="{(k := rand(14))}" />', k,
                         '<add key="Username" value="svc-build" />'),
    "connection-string-password": (
        "Server=tcp:db.contoso.com;User ID=app;Password=winter is coming 7;",
        "winter is coming 7", "Server=db.contoso.com;Integrated Security=true;"),
    "cli-secret-option": (f"app --api-key {(k := rand(32))} --verbose", k,
                          "app --api-key-file /etc/app/key.txt"),
    "sumologic-access-key": (f'export SUMOLOGIC_ACCESSID="{(k := "su" + rand(12))}"', k,
                             'SUMO_ACCESS_ID = "su12345"'),
    "softlayer-api-key": (f"POST https://api.softlayer.com/rest/v3.1/{(k := rand(64, HEX))}/x", k,
                          "GET https://api.softlayer.com/rest/v3.1/SoftLayer_Account.json"),
    "kubernetes-secret": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: billing-db\ntype: Opaque\ndata:\n"
        f"  db-conn: {(k := b64(('svc-billing:' + rand(16)).encode()))}\n", k,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: billing-db\ndata:\n"
        "  username: YWRtaW4=\n"),
    "password-statement": ('char secrete[25] = "Gr33n-Lantern";', "Gr33n-Lantern",
                           'log("wrong password "); retry("later");'),
    "lookup-default": (f'token = os.getenv("BILLING_API_TOKEN", "{(k := uuid4())}")', k,
                       'label = gettext("password", "Passwort")'),
    "hubspot-api-key": (f"const hubspotApiKey = '{(k := uuid4())}';", k,
                        f"hubspot_portal_id = '{uuid4()}'"),
    "aws-bedrock-api-key": (
        f"AWS_BEARER_TOKEN_BEDROCK={(k := 'ABSK' + b64(b'BedrockAPIKey-' + _RNG.randbytes(90)))}",
        k, "ABSKQmVkcm9ja0FQSUtleS1..."),
    "curl-header-token": (
        f"curl -H 'Accept: application/json' -H 'X-Auth-Token: {(k := rand(24, HEX))}' "
        "https://api.contoso.com/v1/jobs", k,
        "curl -H 'X-Request-Token: none' https://api.contoso.com/v1/jobs"),
}
ENTRIES = {e.id: e for e in load()}


def test_every_entry_has_samples() -> None:
    assert set(ENTRIES) == set(SAMPLES)


@pytest.mark.parametrize("entry_id", sorted(SAMPLES))
def test_positive_sample_is_found_by_its_entry(entry_id: str) -> None:
    text, value, _ = SAMPLES[entry_id]
    found = {(m.detector, m.value) for m in SECRET.find(text)}
    assert (entry_id, value) in found
    assert all(m.value not in m.explanation for m in SECRET.find(text))


@pytest.mark.parametrize("entry_id", sorted(SAMPLES))
def test_negative_sample_is_not_a_secret(entry_id: str) -> None:
    assert SECRET.find(SAMPLES[entry_id][2]) == []


@pytest.mark.parametrize("entry_id", sorted(SAMPLES))
def test_keywords_prefilter_lets_the_sample_through(entry_id: str) -> None:
    """A single text goes through SECRET.prefilter first: it must not drop a secret."""
    import re

    assert re.search(SECRET.prefilter, SAMPLES[entry_id][0])


@pytest.mark.parametrize(
    "placeholder",
    ["AKIAIOSFODNN7EXAMPLE", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "$API_KEY", "${VAR}",
     "<token>", "changeme", "***"],
)
def test_placeholders_are_not_secrets(placeholder: str) -> None:
    for text in (f"api_key={placeholder}", f"DB_PASSWORD: {placeholder}",
                 f"SERVICE_TOKEN := {placeholder}", f"https://svc:{placeholder}@host.example",
                 placeholder):
        assert SECRET.find(text) == [], text


@pytest.mark.parametrize(
    ("yaml_text", "line", "needle"),
    [
        ("schema_version: 1\nsecrets:\n  - id: a\n    title: abc\n    pattern: x\n"
         "    validator: nope\n", 6, "nope"),
        ("schema_version: 1\nsecrets:\n  - id: a\n    title: abc\n    pattern: x\n"
         "    colour: red\n", 6, "colour"),
        ("schema_version: 1\nsecrets:\n  - id: a\n    title: abc\n"
         "    pattern: '(?<=k)v'\n", 5, "pattern"),
        ("schema_version: 1\nsecrets:\n  - id: a\n    title: abc\n    pattern: x\n"
         "  - id: a\n    title: abd\n    pattern: y\n", 6, "duplicate"),
        ("schema_version: 1\nsecrets:\n  - id: a\n    title: abc\n    pattern: '(x'\n", 5,
         "invalid pattern"),
    ],
)
def test_catalogue_errors_name_file_and_line(yaml_text: str, line: int, needle: str) -> None:
    with pytest.raises(RuleFileError) as err:
        parse(yaml_text, "my-secrets.yaml")
    assert err.value.line == line
    assert err.value.path == "my-secrets.yaml"
    assert needle in str(err.value)


def test_shipped_catalogue_is_valid() -> None:
    assert parse(Path(CATALOGUE).read_text("utf-8"), str(CATALOGUE)) == load()


def _entry(entry_id: str, pattern: str) -> tuple[Entry, ...]:
    return (Entry(id=entry_id, title="test entry", pattern=pattern),)


def test_offsets_map_to_values_across_separators_and_unicode() -> None:
    """Matches are given to the value they are in, whatever precedes them: empty values,
    multi-byte characters, newlines inside values, a lone surrogate."""
    entries = _entry("abc", r"\bk=(?P<secret>[a-z]{3})\b")
    values = ["", "é k=aaa", "x\nk=bbb", "no", "中文字 k=ccc 中", "\ud800 k=ddd", "k=eee", ""]
    found = multipattern.scan(entries, values)
    assert [[m.value for m in ms] for ms in found] == [
        [], ["aaa"], ["bbb"], [], ["ccc"], ["ddd"], ["eee"], []]


def test_no_match_spans_two_values() -> None:
    """``a[^x]b`` matches across the joined buffer's newline; no value holds it."""
    entries = _entry("ab", r"a[^x]b")
    assert multipattern.scan(entries, ["xa", "bx"]) == [[], []]
    assert [[m.value for m in ms] for ms in multipattern.scan(entries, ["xa", "a-b"])] == [
        [], ["a-b"]]


def test_empty_list_and_long_values() -> None:
    assert multipattern.scan(load(), []) == []
    token = "ghp_" + rand(36)
    long_value = "y " * 200_000 + token  # far past the 64 KiB every detector used to read
    [found] = multipattern.scan(load(), [long_value])
    assert [m.value for m in found] == [token]


def test_entries_with_one_pattern_share_it_and_keep_catalogue_order() -> None:
    """A signed and an unsigned JWT are one pattern of the database (Hyperscan compiles a
    copy per id); each entry's validator still decides, and matches come in catalogue
    order."""
    entries = (Entry(id="b", title="second", pattern=r"k=(?P<secret>[a-z]{4})"),
               Entry(id="a", title="other", pattern=r"v=(?P<secret>[0-9]{4})"),
               Entry(id="c", title="third", pattern=r"k=(?P<secret>[a-z]{4})"))
    assert multipattern._patterns(entries) == ((0, 2), (1,))
    [found] = multipattern.scan(entries, ["v=1234 k=abcd"])
    assert [m.detector for m in found] == ["b", "a", "c"]
    ids = [e.id for e in load()]
    assert any(ids.index("jwt") in g and ids.index("jwt-unsigned") in g
               for g in multipattern._patterns(load()))


def test_find_many_equals_find_per_value() -> None:
    texts = [t for row in SAMPLES.values() for t in (row[0], row[2])]
    assert SECRET.find_many(texts) == [SECRET.find(t) for t in texts]


# Random text that cannot hold a secret: lower-case words, digits and non-ASCII letters,
# no separators (= : . @ ~ _ -) that every catalogue format needs.
_PLAIN = st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz0123456789 éü中\n")),
                 max_size=200)


@settings(max_examples=60, deadline=None)
@given(st.lists(_PLAIN, max_size=20))
def test_random_text_holds_no_secret(texts: list[str]) -> None:
    assert all(ms == [] for ms in SECRET.find_many(texts))


def _forbidden(category: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    pack = audit.load_rule_pack()
    rule = pack.rules[f"{category}/secret-in-data" if category != "error"
                      else "error/secret-in-error-data"]
    ctx = ScanContext(stage=Stage.TRANSIT, key=b"k" * 32, rulepack=pack)
    events = pd.DataFrame(rows, index=pd.RangeIndex(len(rows)))
    return CHECK_KINDS["forbidden-content"].func(rule, events, ctx)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["census", "usage", "error"]), st.sampled_from(sorted(SAMPLES)),
       _PLAIN, _PLAIN)
def test_injected_sample_is_found_in_every_category(category: str, entry_id: str,
                                                    before: str, after: str) -> None:
    text = f"{before} {SAMPLES[entry_id][0]} {after}"
    rows = [{"category": category, "Note": before}, {"category": category, "Note": text}]
    found = _forbidden(category, rows)
    assert list(found.index) == [1]
    assert found.iloc[0]["field"] == "Note"




_K8S_VALUE = b64(("svc-billing:" + rand(16)).encode())


@pytest.mark.parametrize(
    ("text", "detector"),
    [
        # Kubernetes Secret manifests held as text: either order, quoted, JSON, stringData
        (f"apiVersion: v1\ndata:\n  db-conn: '{_K8S_VALUE}'\nkind: 'Secret'\n",
         "kubernetes-secret"),
        (f'{{"apiVersion": "v1", "kind": "Secret", "data": {{"db-conn": "{_K8S_VALUE}"}}}}',
         "kubernetes-secret"),
        (f'{{"data": {{"db-conn": "{_K8S_VALUE}"}}, "kind": "Secret"}}', "kubernetes-secret"),
        ("kind: Secret\nstringData:\n  # rotated monthly\n  smtp: Gr33n-Lantern-42\n",
         "kubernetes-secret"),
        ("kind: Secret\ndata:\n  extra: YmFyCg==\n", None),  # "bar"
        ("kind: Secret\nmetadata:\n  name: x\n---\nkind: ConfigMap\ndata:\n"
         "  strategy: Default\n", None),  # two documents
        ("kind: SecretStore\ndata:\n  region: eu-west-1b\n", None),
        ("kind: Secret\ndata:\n  tls.crt: {{ .Values.cert }}\n", None),
        # a qualifying word after the key word, the "secrete" spelling, a C array
        ('password_super_secure = "Gr33n-Lantern"', "password-assignment"),
        ("db_pass_plain := Gr33n-Lantern", "password-assignment"),
        ("secrete = Gr33n-Lantern", "password-assignment"),
        ('password "Gr33n-Lantern";', "password-statement"),
        ('if ("Gr33n-Lantern" !== my_password_sec) {', "password-comparison"),
        ("secret[] = Gr33n-Lantern;", None),  # a C array wants a string literal
        ('password_length = "sixteen"', None),
        # an API key named for its service; what describes a key is no key
        (f'apikey_billing: "{rand(32)}"', "key-variable-assignment"),
        ('api_key_header = "X-Billing-Api-Key"', None),
        ('api_key_status: "active_enabled"', None),
        ('notes = "Maven - io.jsonwebtoken:jjwt-jackson-0.11.2"', None),
        ("SUMO_ACCESS_KEY: AbCeFG123", None),  # nine characters: no generated key
        # curl: user and password quoted apart, a password in braces; a mistyped byte
        (f'curl --user "{uuid4()}":"{{{rand(14)}}}" https://api.contoso.com',
         "curl-user"),
        ('curl -u "{user}":"{password}" https://api.contoso.com', None),
        # a JWT after Basic is reported as the JWT it is, not as user:password
        ("Authorization: Basic " + jwt({"alg": "HS256", "typ": "JWT"}, rand(43, URLSAFE)),
         "jwt"),
        ("Authorization: Basic " + b64(b"svc-report:" + rand(10).encode() + b"\x95x"),
         "basic-auth"),
        # wrong-length GitLab runner registration token; a three-character password
        ("GR1348941" + rand(51, URLSAFE), None),
        ('<add key="ClearTextPassword" value="abc" />', None),
        ("https://api.softlayer.com/soap/v3/" + rand(64, HEX), "softlayer-api-key"),
    ],
)
def test_round_two_formats(text: str, detector: str | None) -> None:
    """Formats and name variants added after measuring the public suites, each with a
    near miss that must stay quiet."""
    found = [m.detector for m in SECRET.find(text)]
    if detector is None:
        assert found == [], text
    else:
        assert detector in found, (text, found)
        assert detector != "jwt" or "basic-auth" not in found
