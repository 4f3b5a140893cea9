"""A file whose name is not UTF-8 is scanned like any other, and every report names it
the same way: its undecodable bytes written as ``\\xff`` escapes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from support import make_event

from audit.fingerprint import printable

ODD = b"\xff\xfeodd.jsonl"  # not UTF-8
SHOWN = "\\xff\\xfeodd.jsonl"  # how every report writes it


def _odd_folder(tmp_path: Path) -> Path:
    """A folder holding a file named ODD (a leak in it) and a plain one, or skip where
    the file system refuses names that are not UTF-8."""
    folder = tmp_path / "dump"
    folder.mkdir()
    try:
        with open(os.path.join(os.fsencode(folder), ODD), "wb") as handle:
            handle.write(json.dumps(make_event("census", Email="amos@contoso.com")).encode()
                         + b"\n{broken\n")
    except OSError:
        pytest.skip("this file system takes UTF-8 names only")
    (folder / "plain.jsonl").write_text(json.dumps(make_event("usage")) + "\n", "utf-8")
    return folder


def test_printable_escapes_only_what_is_not_utf8() -> None:
    assert printable(os.fsdecode(b"/d/" + ODD)) == "/d/" + SHOWN
    assert printable("/d/caf\u00e9.jsonl") == "/d/caf\u00e9.jsonl"  # UTF-8 stays as it is
    assert printable("C:\\dumps\\a.jsonl") == "C:\\dumps\\a.jsonl"
    assert printable("lone\ud800.jsonl") == "lone\\xed\\xa0\\x80.jsonl"  # no byte behind it
    assert printable(Path("x.jsonl")) == "x.jsonl"
    printable(os.fsdecode(ODD)).encode("utf-8")  # always encodable


def test_a_file_named_in_bytes_is_scanned_and_named_the_same_in_every_report(
        tmp_path: Path, run_cli: Any) -> None:
    folder = _odd_folder(tmp_path)
    with open(os.path.join(os.fsencode(folder), b"\xffskip.txt"), "w") as handle:
        handle.write("x")
    result = run_cli("scan", str(folder), "--format", "json,sarif,junit,md,html")
    assert result.code == 1, result.err  # FAIL: the leak in the odd file, not a crash
    odd = f"{folder}/{SHOWN}"
    report = result.report
    # In the order of the names' bytes, as a folder is always listed.
    assert [i["path"] for i in report["run"]["inputs"]] == [f"{folder}/plain.jsonl", odd]
    assert report["run"]["inputs"][1]["records"] == 2
    assert report["run"]["inputs"][1]["rejected"] == 1
    assert f"{folder}/\\xffskip.txt" in report["run"]["skipped_files"]
    sources = {(f["source"], f["rule"]) for f in report["findings"]}
    assert {(odd, "census/identifies-user"), (odd, "input/malformed-record")} <= sources

    out = result.out_dir
    sarif = json.loads((out / "report.sarif").read_text("utf-8"))
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for res in sarif["runs"][0]["results"] for loc in res["locations"]}
    assert any(uri.endswith("/%5Cxff%5Cxfeodd.jsonl") for uri in uris)  # the text, encoded
    junit = ElementTree.parse(out / "report.junit.xml").getroot()
    assert any(f"{odd}:1" in (node.text or "") + (node.get("message") or "")
               for node in junit.iter())
    # Markdown escapes the backslash, so that it shows as written.
    assert SHOWN.replace("\\", "\\\\") in (out / "report.md").read_text("utf-8")
    page = (out / "report.html").read_text("utf-8").replace("<wbr>", "")
    assert SHOWN in page and "\udcff" not in page
    assert f"{folder}/\\xffskip.txt" in result.out  # the terminal, which names no input
    for path in out.iterdir():  # every report is UTF-8 text
        path.read_bytes().decode("utf-8")


def test_a_file_named_in_bytes_given_by_name(tmp_path: Path, run_cli: Any) -> None:
    """Named on the command line (argv is decoded as the file system does) too."""
    folder = _odd_folder(tmp_path)
    result = run_cli("scan", os.fsdecode(os.path.join(os.fsencode(folder), ODD)),
                     "--format", "json")
    assert result.code == 1, result.err
    assert result.report["run"]["inputs"][0]["path"] == f"{folder}/{SHOWN}"
    assert "\udcff" not in json.dumps(result.report["run"]["command"])


def test_jobs_name_the_file_the_same(tmp_path: Path) -> None:
    import audit

    folder = _odd_folder(tmp_path)
    one = audit.scan(inputs=str(folder), quiet=True, jobs=1)
    two = audit.scan(inputs=str(folder), quiet=True, jobs=2)
    assert [f.to_dict() for f in one.findings] == [f.to_dict() for f in two.findings]
    assert one.run["inputs"] == two.run["inputs"]
    assert one.run["inputs"][1]["path"].endswith(SHOWN)


def test_an_error_names_a_byte_path_as_the_reports_do(run_cli) -> None:
    missing = os.fsdecode(b"\xffmissing.jsonl")
    result = run_cli("scan", missing)
    assert result.code == 2
    assert "\\xffmissing.jsonl: no such file or folder" in result.err
    assert "\\udcff" not in result.err
