"""Benchmark a scan against a ledger of a million records, with every report written.

Run it as a script (not collected by pytest)::

    python tests/bench/bench_ledger.py [--rows N] [--events N] [--keep DIR]

It writes a ledger (org, user and pool records: many subjects with a few changes
each, and a few subjects with a great many) and a JSON Lines dump of error and
usage events of those subjects, a good share sent while their setting blocked
sending. Then it times, in this process, reading the ledger, indexing it and one
as-of lookup per event, and runs ``python -m audit scan`` with all five formats in
a subprocess, printing the exit code, the wall and CPU time, the peak resident memory
(the scan and any process it forks, summed while they run), the size of each report
and what the consent timeline left out. The target: 60 s and 1 GB on two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

START = np.datetime64("2026-01-01T00:00:00", "s")
YEAR_S = 365 * 24 * 3600
#: (scope, setting, subject prefix, share of the rows, subjects): most rows belong to
#: many subjects with a few dozen changes each.
SPREAD = (
    ("org", "DisableAutomaticSendTracing", "tenant", 0.35, 20_000),
    ("user", "ErrorReportingOptIn", "user", 0.35, 50_000),
    ("pool", "MeetingUxEnableTelemetry", "pool", 0.10, 2_000),
)
#: Subjects whose setting flips all year long: the rest of the rows, split among them.
HOT = (("org", "DisableAutomaticSendTracing", "hot-tenant", 3),
       ("user", "ErrorReportingOptIn", "hot-user", 2))


def _names(prefix: str, ids: np.ndarray, scope: str) -> np.ndarray:
    suffix = ".example.com" if scope in ("org", "pool") else ""
    return np.char.add(np.char.add(prefix, ids.astype(str)), suffix)


def write_ledger(path: Path, rows: int, rng: np.random.Generator) -> dict[str, int]:
    """A CSV ledger of ``rows`` records; every since is a distinct second (no conflicts)."""
    parts = []
    left = rows
    for scope, setting, prefix, share, subjects in SPREAD:
        n = int(rows * share)
        parts.append((scope, setting, _names(prefix, rng.integers(0, subjects, n), scope)))
        left -= n
    hot_subjects = sum(h[3] for h in HOT)
    for scope, setting, prefix, count in HOT:
        n = left * count // hot_subjects
        parts.append((scope, setting, _names(prefix, rng.integers(0, count, n), scope)))
    total = sum(len(p[2]) for p in parts)
    seconds = rng.choice(YEAR_S, size=total, replace=False)
    frame = pd.DataFrame({
        "scope": np.concatenate([np.full(len(p[2]), p[0], dtype=object) for p in parts]),
        "subject": np.concatenate([p[2] for p in parts]),
        "setting": np.concatenate([np.full(len(p[2]), p[1], dtype=object) for p in parts]),
        "value": np.where(rng.random(total) < 0.5, "true", "false"),
        "since": pd.Series(START + seconds).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    frame.to_csv(path, index=False)
    return {"records": total, "hot": sum(len(p[2]) for p in parts[len(SPREAD):])}


def write_dump(path: Path, events: int, rng: np.random.Generator) -> None:
    """Desktop error and usage events of the ledger's subjects (and some unknown ones,
    whose default holds), and meetings events of its pools."""
    times = pd.Series(START + rng.integers(0, YEAR_S, events)).dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
    hot = rng.random(events) < 0.05
    tenants = np.where(hot, _names("hot-tenant", rng.integers(0, 3, events), "org"),
                       _names("tenant", rng.integers(0, 24_000, events), "org"))
    users = np.where(hot, _names("hot-user", rng.integers(0, 2, events), "user"),
                     _names("user", rng.integers(0, 60_000, events), "user"))
    pools = _names("pool", rng.integers(0, 2_000, events), "pool")
    kind = rng.random(events)
    with path.open("w", encoding="utf-8") as out:
        for i in range(events):
            if kind[i] < 0.5:
                record = {"category": "error", "time": times[i], "client": "desktop",
                          "platform": "windows", "tenant": tenants[i], "UserID": users[i],
                          "ErrorCode": "0x80004005"}
            elif kind[i] < 0.8:
                record = {"category": "usage", "time": times[i], "client": "desktop",
                          "tenant": tenants[i], "CallMinutes": 5}
            else:
                record = {"category": "usage", "time": times[i], "client": "meetings_app",
                          "pool": pools[i], "CallMinutes": 5}
            out.write(json.dumps(record) + "\n")


def profile_loading(ledger: Path, dump: Path) -> None:
    """Time the ledger's phases in this process: read, index, one lookup per event."""
    import audit.rulepack
    from audit.ledger import ledger_from, read_ledger, subject_keys

    pack = audit.rulepack.load()
    started = time.perf_counter()
    read = read_ledger(ledger, pack)
    t_read = time.perf_counter() - started
    started = time.perf_counter()
    loaded = ledger_from(read, pack)
    t_index = time.perf_counter() - started
    events = pd.read_json(dump, lines=True, dtype=False)
    keys = subject_keys("org", events["tenant"]).to_numpy(dtype=object)
    when = pd.to_datetime(events["time"], utc=True).dt.tz_convert(None).to_numpy(
        dtype="datetime64[ns]")
    started = time.perf_counter()
    loaded.at("org", "DisableAutomaticSendTracing", keys, when, False)
    t_at = time.perf_counter() - started
    print(f"ledger read:  {t_read:6.2f} s  ({len(loaded):,} records)")
    print(f"ledger index: {t_index:6.2f} s")
    print(f"as-of lookup: {t_at:6.2f} s  ({len(keys):,} events)")


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and its children, now (0 once it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):  # it may have ended meanwhile
            total += proc.memory_info().rss
    return total


def run_scan(ledger: Path, dump: Path, out: Path) -> None:
    """``python -m audit scan`` with every format: exit code, time, memory, sizes."""
    command = [sys.executable, "-m", "audit", "scan", str(dump), "--ledger", str(ledger),
               "--format", "json,html,sarif,junit,md", "--quiet", "--out", str(out)]
    peak = 0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)

    def watch() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    watcher.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"scan exit {proc.returncode} in {seconds:.1f} s ({cpu:.1f} s of CPU); peak RSS "
          f"{peak / 2**20:,.0f} MiB (scan and its children summed), "
          f"{after.ru_maxrss * 1024 / 2**20:,.0f} MiB (largest process)")
    if err.strip():
        print(err.strip()[-2000:])
    for path in sorted(out.iterdir()):
        print(f"  {path.name:18} {path.stat().st_size:>14,} bytes")
    report = json.loads((out / "report.json").read_text("utf-8"))
    timeline = report.get("consent_timeline") or []
    changes = sum(len(entry.get("changes") or ()) for entry in timeline)
    print(f"  consent timeline: {len(timeline):,} subjects, {changes:,} changes listed")
    for note in report.get("consent_timeline_cut") or ():
        print(f"  cut: {note.get('message')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, help="write the inputs and reports here")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the in-process timing of the ledger's phases")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        ledger, dump, out = folder / "ledger.csv", folder / "dump.jsonl", folder / "reports"
        started = time.perf_counter()
        counts = write_ledger(ledger, args.rows, rng)
        write_dump(dump, args.events, rng)
        print(f"inputs: {counts['records']:,} ledger records ({counts['hot']:,} of "
              f"{sum(h[3] for h in HOT)} subjects), {args.events:,} events, written in "
              f"{time.perf_counter() - started:.1f} s")
        if not args.no_profile:
            profile_loading(ledger, dump)
        run_scan(ledger, dump, out)


if __name__ == "__main__":
    main()
