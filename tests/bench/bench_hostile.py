"""Every class of hostile input of the hardening issue, at full size: exit code, wall time
and peak memory of the command line on each.

Run as a script (not collected by pytest)::

    python tests/bench/bench_hostile.py [--work DIR] [--only NAME ...] [--json OUT]

Each case is generated into ``--work`` (a temporary folder by default, removed after),
then run as ``python -m audit ...`` in its own process; the peak is the largest resident
set of that process and its children (``/proc`` polled), the time is wall time. The
table says what the scan ended with and how many records it read, audited and rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tabulate import tabulate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE.parent), str(HERE)]

from support import CLEAN, LEDGER, SAMPLE, make_event  # noqa: E402

MIB = 1 << 20
EVENT = json.dumps(make_event("census"))


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), "utf-8")
    return path


def gzip_bomb(work: Path) -> list[str]:
    """10 GiB of one byte, no newline, gzip-compressed to about 10 MB."""
    path = work / "bomb.jsonl.gz"
    block = b"a" * (64 * MIB)
    with path.open("wb") as out:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        for _ in range(160):
            out.write(packer.compress(block))
        out.write(packer.flush())
    return ["scan", str(path)]


def csv_columns(work: Path) -> list[str]:
    path = work / "wide.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(f"c{i}" for i in range(1_000_000)) + "\n")
        for _ in range(3):
            out.write(",".join("x" for _ in range(1_000_000)) + "\n")
    return ["scan", str(path)]


def csv_cell(work: Path) -> list[str]:
    """One quoted cell of 20 MB with newlines between two normal rows."""
    event = make_event("error", ErrorLog="short")
    header = sorted(event)
    row = [str(event[k]) for k in header]
    big = dict(zip(header, row, strict=True))
    big["ErrorLog"] = '"' + ("x" * 49 + "\n") * (20 * MIB // 50) + '"'
    path = work / "cell.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(header) + "\n" + ",".join(row) + "\n")
        out.write(",".join(big[k] for k in header) + "\n" + ",".join(row) + "\n")
    return ["scan", str(path)]


def many_keys(work: Path) -> list[str]:
    event = make_event("census", **{f"k{i}": f"v{i}" for i in range(100_000)})
    return ["scan", str(_lines(work / "keys.jsonl", [json.dumps(event)]))]


def many_keys_allowed(work: Path) -> list[str]:
    return [*many_keys(work), "--limit", "keys=200000"]


def unique_keys(work: Path) -> list[str]:
    """20,000 records with a key each (each a column of its own)."""
    lines = [json.dumps(make_event("census", **{f"key{i}": "v"})) for i in range(20_000)]
    return ["scan", str(_lines(work / "unique.jsonl", lines))]


def small_files(work: Path) -> list[str]:
    folder = work / "files"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"{i:05}.jsonl").write_text(EVENT + "\n", "utf-8")
    return ["scan", str(folder)]


def odd_name(work: Path) -> list[str]:
    folder = work / "names"
    folder.mkdir()
    name = os.fsdecode(b"\xff\xfe-capture.jsonl")
    shutil.copy(SAMPLE, folder / name)
    return ["scan", str(folder)]


def bad_utf8(work: Path) -> list[str]:
    good = [EVENT] * 100_000
    lines = [line.encode() for line in good]
    for i in range(0, len(lines), 100):
        lines[i] = lines[i].replace(b'"iPhone"', b'"iPh\xffone"')
    path = work / "utf8.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return ["scan", str(path)]


def numbers(work: Path) -> list[str]:
    base = make_event("census")
    odd = ['{"category": "census", "n": ' + "9" * 5001 + "}",
           '{"category": "census", "n": 1e999}', '{"category": "census", "n": NaN}']
    lines = [json.dumps(base)] * 1000 + odd
    return ["scan", str(_lines(work / "numbers.jsonl", lines))]


def years(work: Path) -> list[str]:
    lines = [json.dumps(make_event("census", time=t)) for t in
             ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
              "2026-03-02T10:00:00Z")]
    return ["scan", str(_lines(work / "years.jsonl", lines))]


def names(work: Path) -> list[str]:
    lines = [json.dumps(make_event("census", **{"__proto__": {"polluted": 1}})),
             json.dumps(make_event("census", _source="x")),
             '{"category": "census", "a.b": 1, "a": {"b": 2}}']
    return ["scan", str(_lines(work / "names.jsonl", lines))]


def repeats(work: Path) -> list[str]:
    """Keys given twice: 4,990 of them in one event (just within --limit keys, every value
    counted), and cV in each of 20,000 events, as real Census events repeat it (two files:
    one wide event among narrow ones costs much whether it repeats keys or not)."""
    head = EVENT[:-1]
    _lines(work / "wide.jsonl",
           [head + "".join(f', "k{i}": "a", "k{i}": "b"' for i in range(4990)) + "}"])
    _lines(work / "cv.jsonl",
           [head + f', "cV": "A{i}.1", "cV": "A{i}.2"}}' for i in range(20_000)])
    return ["scan", str(work / "wide.jsonl"), str(work / "cv.jsonl")]


def _bomb_rules(work: Path) -> Path:
    rules = work / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("__*"))
    levels = ["lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    text = (rules / "usage.yaml").read_text("utf-8")
    (rules / "usage.yaml").write_text(text + "\n" + "\n".join(levels) + "\n", "utf-8")
    return rules


def alias_bomb_validate(work: Path) -> list[str]:
    return ["rules", "validate", str(_bomb_rules(work))]


def alias_bomb_scan(work: Path) -> list[str]:
    return ["scan", str(CLEAN), "--rules", str(_bomb_rules(work))]


def big_ledger(work: Path) -> list[str]:
    import numpy as np
    from bench_ledger import write_dump, write_ledger

    rng = np.random.default_rng(11)
    write_ledger(work / "ledger.csv", 1_000_000, rng)
    write_dump(work / "dump.jsonl", 300_000, rng)
    return ["scan", str(work / "dump.jsonl"), "--ledger", str(work / "ledger.csv")]


def identities(work: Path) -> list[str]:
    from bench_identities import make_identities, write_csv

    write_csv(work / "directory.csv", make_identities(100_000))
    return ["scan", str(SAMPLE), "--ledger", str(LEDGER), "--identities",
            str(work / "directory.csv")]


def nulls(work: Path) -> list[str]:
    path = work / "nulls.json"
    path.write_text("[" + ",".join(["null"] * 1_000_000) + "]", "utf-8")
    return ["scan", str(path)]


CASES: dict[str, tuple[str, Callable[[Path], list[str]]]] = {
    "gzip-bomb": ("gzip bomb, 10 GiB of one byte without a newline", gzip_bomb),
    "csv-columns": ("CSV with 1,000,000 columns", csv_columns),
    "csv-cell": ("one quoted 20 MB CSV cell with newlines", csv_cell),
    "keys": ("one event with 100,000 keys (default --limit keys)", many_keys),
    "keys-allowed": ("the same with --limit keys=200000", many_keys_allowed),
    "unique-keys": ("20,000 events with a key each", unique_keys),
    "small-files": ("a folder of 10,000 one-event files", small_files),
    "odd-name": ("a file name with invalid UTF-8", odd_name),
    "bad-utf8": ("invalid UTF-8 inside JSON strings (1,000 of 100,000)", bad_utf8),
    "numbers": ("a 5,001-digit integer, 1e999, NaN", numbers),
    "years": ("event years 0001, 9999, 0", years),
    "names": ("__proto__, _source, flat a.b beside nested a.b", names),
    "repeats": ("4,990 keys given twice in one event; cV twice in 20,000", repeats),
    "alias-validate": ("YAML alias bomb in a rule file: rules validate", alias_bomb_validate),
    "alias-scan": ("YAML alias bomb in a rule file: scan --rules", alias_bomb_scan),
    "ledger": ("a ledger of 1,000,000 rows (300,000 events)", big_ledger),
    "identities": ("100,000 identities (the sample dump)", identities),
    "nulls": ("a JSON array of 1,000,000 nulls", nulls),
}


def _rss_kib(pid: int) -> int:
    """Resident KiB of a process and its children (0 when gone)."""
    total = 0
    try:
        total = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                         if line.startswith("VmRSS:")).split()[1])
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, StopIteration):
        return total
    return total + sum(_rss_kib(int(child)) for child in children)


def measure(argv: list[str], out: Path) -> dict[str, Any]:
    """Run the command line once, polling its memory; exit code, seconds, peak MiB."""
    command = [sys.executable, "-m", "audit", *argv]
    if argv[0] == "scan":
        command += ["--out", str(out), "--quiet"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _rss_kib(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    err = process.stderr.read() if process.stderr else ""
    row: dict[str, Any] = {"exit": process.returncode, "seconds": round(seconds, 1),
                           "peak_mib": peak // 1024, "error": err.strip().splitlines()[-1:]}
    report = out / "report.json"
    if argv[0] == "scan" and report.exists():
        summary = json.loads(report.read_text("utf-8"))["summary"]
        row.update(verdict=summary["verdict"], read=summary["records_read"],
                   audited=summary["records_audited"], rejected=summary["records_rejected"],
                   reports=sum(1 for _ in out.glob("report.*")),
                   sarif_mib=round((out / "report.sarif").stat().st_size / MIB, 1))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="generate the inputs here (kept)")
    parser.add_argument("--only", action="append", choices=sorted(CASES))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="hostile-"))
    rows = []
    try:
        for name in args.only or list(CASES):
            title, make = CASES[name]
            folder = work / name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            argv = make(folder)
            row = {"case": name, "input": title, **measure(argv, folder / "out")}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.work is None:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    headers = ["input", "exit", "verdict", "seconds", "peak_mib", "read", "audited",
               "rejected", "reports"]
    print(tabulate([[r.get(h, "") for h in headers] for r in rows], headers=headers,
                   tablefmt="github"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), "utf-8")


if __name__ == "__main__":
    main()
