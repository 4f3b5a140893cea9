"""The detection benchmark's sample extraction, on small files written here in the shapes
of presidio's, detect-secrets' and gitleaks' tests (the real suites are not in CI)."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent / "bench" / "bench_detection.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_detection", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_detection"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def labelled(extracted) -> set[tuple[str, bool, str]]:
    return {(s.kind, s.positive, s.text) for s in extracted.samples}


def test_presidio_shapes(bench: ModuleType, tmp_path: Path) -> None:
    tests = tmp_path / "presidio" / "presidio-analyzer" / "tests"
    write(tests / "test_email_recognizer.py", '''
        import pytest
        DOMAIN = "presidio.site"

        @pytest.fixture(scope="module")
        def entities():
            return ["EMAIL_ADDRESS"]

        @pytest.mark.parametrize(
            "text, expected_len, expected_positions",
            [
                ("info@presidio.site", 1, ((0, 18),),),
                ("write to {}@{}".format("me", DOMAIN), 1, ((9, 25),)),
                (f"not an email: hello@{DOMAIN[:3]}", 0, ()),
                (make_text(), 1, ()),
            ],
        )
        def test_email(text, expected_len, expected_positions):
            pass
        ''')
    write(tests / "test_spacy_recognizer.py", '''
        import pytest

        @pytest.fixture
        def entities():
            return ["PERSON", "DATE_TIME"]

        @pytest.mark.parametrize("text, expected_len, expected_positions, entity_num", [
            ("my name is Dan", 1, ((11, 14),), 0),
            ("May 1st", 1, ((0, 7),), 1),
        ])
        def test_ner(text, expected_len, expected_positions, entity_num):
            pass
        ''')
    write(tests / "test_us_ssn_recognizer.py", '''
        import pytest

        @pytest.mark.parametrize("text, expected_len", [("078-05-1120", 1), ("000-00-0000", 0)])
        def test_ssn(text, expected_len):
            pass
        ''')
    write(tests / "test_pattern_recognizer.py", '''
        import pytest

        @pytest.mark.parametrize("text, expected_len", [("made up", 1)])
        def test_pattern(text, expected_len):
            pass
        ''')
    got = bench.presidio(tmp_path / "presidio")
    assert labelled(got) == {
        ("email", True, "info@presidio.site"), ("email", True, "write to me@presidio.site"),
        ("email", False, "not an email: hello@pre"),
        ("person", True, "my name is Dan"), ("date", True, "May 1st"),
        ("national id", True, "078-05-1120"), ("national id", False, "000-00-0000"),
    }
    assert got.skipped == {"email": 1}  # make_text() is not evaluated


def test_detect_secrets_shapes(bench: ModuleType, tmp_path: Path) -> None:
    plugins = tmp_path / "detect-secrets" / "tests" / "plugins"
    write(plugins / "aws_key_test.py", '''
        import textwrap
        import pytest
        EXAMPLE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

        class TestAWS:
            @pytest.mark.parametrize(
                'line,should_flag',
                [
                    ('AKIAZZZZZZZZZZZZZZZZ', True),
                    ('akiazzzzzzzzzzzzzzzz', False),
                    ('aws_access_key = "{}"'.format(EXAMPLE + 'a'), False),
                    (base64.b64encode(b"x"), True),
                ],
            )
            def test_analyze(self, line, should_flag):
                pass

        @pytest.mark.parametrize('content, expected_output', (
            (textwrap.dedent("""
                aws_secret_access_key = {}
            """)[1:-1].format(EXAMPLE), [EXAMPLE]),
            ('nothing here', []),
        ))
        def test_get(content, expected_output):
            pass
        ''')
    write(plugins / "keyword_test.py", '''
        import pytest
        SECRET = "hunter22hunter22"
        CONFIG_CASES = [
            ('password = "{}"'.format(SECRET), SECRET),
            ('api_key = ""', None),
        ]

        def cases(tables):
            for ext, table in tables:
                for line, expected in table:
                    yield ext, line, expected

        @pytest.mark.parametrize('file_extension, line, expected_secret',
                                 cases([('conf', CONFIG_CASES), ('py', CONFIG_CASES)]))
        def test_keyword(file_extension, line, expected_secret):
            pass
        ''')
    write(plugins / "slack_test.py", '''
        import pytest

        @pytest.mark.parametrize('line', ['xoxb-' + '1234' * 3])
        def test_analyze(line):
            pass
        ''')
    write(plugins / "ip_public_test.py", '''
        import pytest

        @pytest.mark.parametrize('payload, should_flag', [('8.8.8.8', True), ('10.0.0.1', False)])
        def test_ip(payload, should_flag):
            pass
        ''')
    got = bench.detect_secrets(tmp_path / "detect-secrets").deduplicated()
    example = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert labelled(got) == {
        ("secret", True, "AKIAZZZZZZZZZZZZZZZZ"), ("secret", False, "akiazzzzzzzzzzzzzzzz"),
        ("secret", False, f'aws_access_key = "{example}a"'),
        ("secret", True, f"aws_secret_access_key = {example}"),
        ("secret", False, "nothing here"),
        ("secret", True, 'password = "hunter22hunter22"'), ("secret", False, 'api_key = ""'),
        ("secret", True, "xoxb-123412341234"),
        ("ip", True, "8.8.8.8"), ("ip", False, "10.0.0.1"),
    }
    assert got.skipped == {"secret": 1}


GO_RULE = '''
package rules

func Example() *config.Rule {
	r := config.Rule{RuleID: "example", Regex: regexp.MustCompile(`ex_[a-z]{8}`)}

	// validate
	tps := utils.GenerateSampleSecrets("example", "ex_"+secrets.NewSecret(`[a-z]{8}`))
	tps = append(tps,
		`token: ex_abcdefgh`, // gitleaks:allow
		"key = \\"ex_" + "ijklmnop\\"\\n",
		"ex_"+secrets.NewSecret(`[a-z]{8}`),
	)
	tps = append(tps, utils.GenerateSampleSecrets("example", "ex_qrstuvwx")...)
	fps := []string{
		"ex_xxxxxxxx", // low entropy
		`multi
line`,
	}
	return utils.Validate(r, tps, fps)
}

func Paths() *config.Rule {
	tps := map[string]string{
		"file.tf": "password = " + `"thisIsDog11"`,
	}
	fps := append(shared_keys, other_keys...)
	return utils.ValidateWithPaths(r, tps, fps)
}
'''


def test_gitleaks_shapes(bench: ModuleType, tmp_path: Path) -> None:
    write(tmp_path / "gitleaks" / "cmd" / "generate" / "config" / "rules" / "example.go",
          GO_RULE)
    got = bench.gitleaks(tmp_path / "gitleaks")
    assert labelled(got) == {
        ("secret", True, "token: ex_abcdefgh"), ("secret", True, 'key = "ex_ijklmnop"\n'),
        ("secret", False, "ex_xxxxxxxx"), ("secret", False, "multi\nline"),
        ("secret", True, 'password = "thisIsDog11"'),
    }
    # two GenerateSampleSecrets calls, one NewSecret, an append of two unknown lists
    assert got.skipped == {"secret": 5}


def test_go_string_escapes(bench: ModuleType) -> None:
    tokens = bench.go_tokens(r'"a\tb\x41\u00e9\101\\" `raw\n`')
    assert tokens == [("str", "a\tbAé" + "A\\"), ("str", "raw\\n")]


def test_scan_counts_findings_on_the_samples_field(bench: ModuleType, tmp_path: Path) -> None:
    samples = [bench.Sample("s", "email", True, "write to amos.marble@contoso.com", "x"),
               bench.Sample("s", "email", False, "nothing to see here", "x"),
               bench.Sample("s", "card", True, "card 4111 1111 1111 1111 declined", "x")]
    placements = (("census", "Detail"), ("error", "ErrorLog"))
    outcome = bench.scan_samples(samples, tmp_path, placements)
    assert outcome[(0, "census", "Detail")] == "flagged"
    assert outcome[(1, "census", "Detail")] == "clean"
    assert outcome[(2, "error", "ErrorLog")] == "flagged"
    assert outcome[(0, "error", "ErrorLog")] == "clean"  # e-mail addresses are allowed there
    rows = bench.tabulate(samples, {"s": {"email": 2}}, outcome,
                          {"census": {"email"}, "error": {"card"}}, placements)
    census_email = next(r for r in rows if r["placement"] == "census:Detail"
                        and r["kind"] == "email")
    expected = {"positives": 1, "detected": 1, "negatives": 1, "flagged": 0, "skipped": 2,
                "recall": 1.0, "fp_rate": 0.0, "target": True}
    assert {k: census_email[k] for k in expected} == expected


def test_own_kind_columns_ignore_other_kinds_findings(bench: ModuleType,
                                                     tmp_path: Path) -> None:
    """A secret negative flagged only for the domain in it is no secret false positive."""
    samples = [bench.Sample("s", "secret", False, "see https://host.contoso.com/docs", "x"),
               bench.Sample("s", "card", True, "card 4111 1111 1111 1111 declined", "x")]
    placements = (("census", "Detail"),)
    detectors: dict = {}
    outcome = bench.scan_samples(samples, tmp_path, placements, detectors=detectors)
    assert outcome[(0, "census", "Detail")] == "flagged"
    rows = bench.tabulate(samples, {}, outcome, {"census": {"secret", "card"}}, placements,
                          detectors=detectors)
    secret = next(r for r in rows if r["kind"] == "secret")
    card = next(r for r in rows if r["kind"] == "card")
    assert (secret["flagged"], secret["own_flagged"], secret["own_fp_rate"]) == (1, 0, 0.0)
    assert (card["detected"], card["own_detected"]) == (1, 1)


def test_contested_reasons(bench: ModuleType) -> None:
    """Each rule of the classifier on samples written here; an ordinary sample is not
    contested, and every reason it gives is documented."""
    def sample(positive: bool, text: str, origin: str = "vendor_test.py:1") -> object:
        return bench.Sample("s", "secret", positive, text, origin)

    key = "Qm8vTz4Lp2Xw7Rk9Vb3N"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nwords, not a key\n-----END RSA PRIVATE KEY-----"
    both = [sample(True, f"token = {key}"), sample(False, f"token = {key}")]
    values = [sample(True, f'password = "{key}x"', "keyword_test.py:1"),
              sample(False, f"password = {key}x", "keyword_test.py:2")]
    twins = bench.labelled_both_ways(both + values)
    value_twins = bench.values_labelled_both_ways(both + values)
    # what the source itself labels positive: a GitHub token in its GitHub test, a
    # password assignment in its keyword test
    formats = bench.positive_formats([
        sample(True, f"ghp_{key[::-1]}{key[:16]}", "github_test.py:1"),
        sample(True, 'db_password = "Lp3vB8qZt6Wx"', "keyword_test.py:3")])
    assert ("s", "github-token", "github") in formats
    cases = [
        (both[0], "labelled-both-ways"),
        (both[1], "labelled-both-ways"),
        (values[0], "value-labelled-both-ways"),
        (values[1], "value-labelled-both-ways"),
        (sample(True, "api_key: ABCxxxxxxxxxxxx"), "placeholder"),
        (sample(True, "AKIAZZZZZZZZZZZZZZZZ"), "placeholder"),
        (sample(True, "secret = Zk2mEXAMPLEKEY7Vq"), "placeholder"),
        (sample(True, "tok: q7RfK2mFaKe9ZtLp4VbN8"), "placeholder"),
        (sample(True, "svc_user_id = 'a81f09c2d4e6b7a8c9d0e1f2a3b4c5d6'"), "id-or-account"),
        (sample(True, "https://tenant-one.db.contoso.com"), "id-or-account"),
        (sample(True, pem), "suites-disagree"),
        (sample(False, "eyJhbGciOiJIUzI1NiJ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"), "suites-disagree"),
        (sample(False, f"ghp_{key}{key[:16]}", "gitlab_test.py:3"), "format-negative"),
        # the same format, labelled negative in the only test that calls it positive
        (sample(False, f"ghp_{key}{key[:16]}", "github_test.py:7"), None),
        (sample(False, 'db_password = "Wq4zN8cLr1Tb"', "nuget.go:fps"),
         "generic-credential-negative"),
        # a generic entry the source's generic tests never call positive: counted as labelled
        (sample(False, '<add key="DbPassword" value="Wq4zN8cLr1Tb" />', "nuget.go:fps"), None),
        # a generic detector's own negative stays: its label is about the generic entries
        (sample(False, "password = Hv5sJ0mYe6Pd", "keyword_test.py:9"), None),
        (sample(True, "password = Rc7uK3wZa9Fg"), None),
        (sample(False, "nothing secret here"), None),
        (bench.Sample("s", "email", True, "AKIAZZZZZZZZZZZZZZZZ", "x"), None),
    ]
    for s, reason in cases:
        assert bench.contested(s, twins, value_twins, formats) == reason, s
        assert reason is None or reason in bench.CONTESTED_REASONS


def test_adjudicated_columns_leave_contested_samples_out(bench: ModuleType) -> None:
    samples = [bench.Sample("s", "secret", True, "a", "x"),
               bench.Sample("s", "secret", True, "b", "x"),
               bench.Sample("s", "secret", False, "c", "x"),
               bench.Sample("s", "secret", False, "d", "x")]
    placements = (("error", "ErrorLog"),)
    outcome = {(0, "error", "ErrorLog"): "flagged", (1, "error", "ErrorLog"): "clean",
               (2, "error", "ErrorLog"): "flagged", (3, "error", "ErrorLog"): "clean"}
    detectors = {(0, "error", "ErrorLog"): {"SECRET"}, (2, "error", "ErrorLog"): {"SECRET"}}
    reasons = [None, "placeholder", "format-negative", None]
    (row,) = bench.tabulate(samples, {}, outcome, {"error": {"secret"}}, placements,
                            detectors=detectors, reasons=reasons)
    assert (row["own_recall"], row["own_fp_rate"]) == (0.5, 0.5)
    assert (row["adj_own_recall"], row["adj_own_fp_rate"]) == (1.0, 0.0)
    assert row["contested"] == {"placeholder": 1, "format-negative": 1}
    text = bench.render_contested(samples, reasons)
    assert "placeholder" in text and "format-negative" in text


def test_acceptance_pools_a_categorys_placements_against_the_targets(
        bench: ModuleType) -> None:
    """Secrets by their own-kind counts, PII over the kinds the category searches for;
    raw and without contested samples; a figure on its bound meets it."""
    samples = [bench.Sample("s", "secret", True, "a", "x"),
               bench.Sample("s", "secret", False, "b", "x"),
               bench.Sample("s", "email", True, "c", "x"),
               bench.Sample("s", "date", True, "d", "x")]
    placements = (("usage", "Detail"), ("usage", "FederationPartner"))
    outcome = {(0, "usage", "Detail"): "flagged", (0, "usage", "FederationPartner"): "clean",
               (1, "usage", "Detail"): "clean", (1, "usage", "FederationPartner"): "flagged",
               (2, "usage", "Detail"): "flagged", (2, "usage", "FederationPartner"): "flagged",
               (3, "usage", "Detail"): "clean", (3, "usage", "FederationPartner"): "clean"}
    detectors = {(0, "usage", "Detail"): {"SECRET"},
                 (1, "usage", "FederationPartner"): {"SECRET"},
                 (2, "usage", "Detail"): {"EMAIL"}, (2, "usage", "FederationPartner"): {"EMAIL"}}
    rows = bench.tabulate(samples, {}, outcome, {"usage": {"secret", "email"}}, placements,
                          detectors=detectors, reasons=[None, "placeholder", None, None])
    figures = {f["measure"]: f for f in bench.acceptance(rows)}
    assert set(figures) == {"secret recall", "secret FP", "in-scope PII recall"}
    recall, fp, pii = (figures[m] for m in ("secret recall", "secret FP",
                                            "in-scope PII recall"))
    assert (recall["hit"], recall["of"], recall["raw"], recall["met"]) == (1, 2, 0.5, False)
    assert (fp["hit"], fp["of"], fp["met"]) == (1, 2, False)
    assert (fp["adj_of"], fp["adj"], fp["adj_met"]) == (0, None, None)  # all contested
    assert (pii["hit"], pii["of"], pii["raw"], pii["met"]) == (2, 2, 1.0, True)  # not "date"
    text = bench.render_acceptance(bench.acceptance(rows))
    assert "SHORT" in text and "met" in text and "≥ 95%" in text and "≤ 2%" in text
