"""The report must not become a leak: no identity and no offending value in any output.

The sample dump is scanned through the command line with the bundled ledger and
directory, writing every registered format. Then no directory value (as is or
lower-cased, at least 6 characters) and no raw offending value may appear in
any output file. Organisation and pool subjects of the ledger are the exception:
the consent timeline names them on purpose (usage data may name the
organisation; user subjects are masked there). With ``--show-evidence`` the same values DO appear in
report.json, which proves that the search would find a leak.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from support import CLEAN, DIRECTORY, LEDGER, RULES, SAMPLE

from audit.cli import main
from audit.renderers import RENDERERS

MIN_LEN = 6
USER_SCOPE_RULES = {"error/no-opt-in"}


def _public_text() -> str:
    """The rule pack's own text (statements quote the practices, e.g. "such as contoso.com")."""
    return "\n".join(p.read_text("utf-8") for p in sorted(RULES.glob("*.yaml")))


def _org_subjects() -> set[str]:
    """Organisation and pool subjects of the ledger: the consent timeline shows them."""
    with LEDGER.open(encoding="utf-8", newline="") as handle:
        return {row["subject"] for row in csv.DictReader(handle) if row["scope"] != "user"}


def _identity_values() -> set[str]:
    with DIRECTORY.open(encoding="utf-8", newline="") as handle:
        values = {row["value"] for row in csv.DictReader(handle)} - _org_subjects()
    public = _public_text().casefold()
    out = set()
    for value in values:
        for form in (value, value.lower()):
            if len(form) >= MIN_LEN and form.casefold() not in public:
                out.add(form)
    return out


def _scan(out: Path, dump: Path, *extra: str) -> int:
    formats = ",".join(sorted(RENDERERS))
    return main(
        [
            "scan",
            str(dump),
            "--ledger",
            str(LEDGER),
            "--identities",
            str(DIRECTORY),
            "--format",
            formats,
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    masked = tmp_path_factory.mktemp("masked")
    shown = tmp_path_factory.mktemp("shown")
    assert _scan(masked, SAMPLE) == 1
    assert _scan(shown, SAMPLE, "--show-evidence") == 1
    return {"masked": masked, "shown": shown}


def _offending_values(report: dict) -> set[str]:
    """The raw values of the findings, as a --show-evidence report gives them.

    Event-level consent findings carry their subject; only user subjects are personal.
    """
    public = _public_text()
    return {
        f["evidence"]
        for f in report["findings"]
        if f.get("evidence")
        and len(f["evidence"]) >= MIN_LEN
        and f["evidence"] not in public
        and (f["field"] is not None or f["rule"] in USER_SCOPE_RULES)
    }


def test_every_format_was_written(outputs: dict[str, Path]) -> None:
    written = {p.name for p in outputs["masked"].iterdir()}
    assert {r.filename for r in RENDERERS.values()} <= written


def test_no_identity_or_offending_value_in_any_output(outputs: dict[str, Path]) -> None:
    shown = json.loads((outputs["shown"] / "report.json").read_text("utf-8"))
    needles = _identity_values() | _offending_values(shown)
    assert len(needles) >= 10
    leaks = []
    for path in sorted(outputs["masked"].iterdir()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        folded = text.casefold()
        leaks += [(path.name, n) for n in sorted(needles) if n.casefold() in folded]
    assert leaks == [], leaks


def test_show_evidence_reveals_the_values(outputs: dict[str, Path]) -> None:
    """The search above can fail: with --show-evidence the values are in report.json."""
    text = (outputs["shown"] / "report.json").read_text("utf-8")
    for needle in (
        "amos.marble@contoso.com",
        "Amos Marble's iPhone",
        "priya.k@fabrikam.com",
        "Contoso Ltd",
        "00000000-0000-0000-0000-000000000000",
    ):
        assert needle in text


def test_sample_dump_raises_each_injected_identity_violation(outputs: dict[str, Path]) -> None:
    report = json.loads((outputs["masked"] / "report.json").read_text("utf-8"))
    by_rule: dict[str, set[tuple[int, str | None]]] = {}
    for f in report["findings"]:
        by_rule.setdefault(f["rule"], set()).add((f["line"], f["field"]))
    lines = SAMPLE.read_text("utf-8").splitlines()

    def line_of(needle: str) -> int:
        return next(i for i, text in enumerate(lines, 1) if needle in text)

    email_line = line_of('"UserID": "amos.marble@contoso.com"')
    assert (email_line, "UserID") in by_rule["census/unhashed-user-id"]
    assert (email_line, "UserID") in by_rule["census/identifies-user"]
    assert (line_of('"UserID": "b2dd1992'), "UserID") in by_rule["census/unhashed-user-id"]
    assert (line_of("00000000-0000-0000-0000-000000000000"), "DeviceID") in by_rule[
        "census/device-id-not-random"
    ]
    assert (line_of("C232AB00-9414-11EC"), "DeviceID") in by_rule["census/device-id-not-random"]
    assert (line_of("Amos Marble's iPhone"), "DeviceModel") in by_rule["census/identifies-user"]
    assert (line_of('"TenantName"'), "TenantName") in by_rule["census/identifies-organization"]
    assert (line_of('"UserEmail"'), "UserEmail") in by_rule["usage/identifies-user"]
    assert (line_of("password=Hunter2!"), "ErrorLog") in by_rule["error/secret-in-error-data"]
    shared = [i for i, t in enumerate(lines, 1) if "6F9619FF-8B86-4011-B42D-00C04FC964FF" in t]
    assert len(shared) == 6
    assert {(i, "DeviceID") for i in shared} <= by_rule["census/device-id-not-random"]


def test_clean_dump_passes_with_ledger_and_identities(tmp_path: Path) -> None:
    assert _scan(tmp_path, CLEAN) == 0
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert report["findings"] == []
