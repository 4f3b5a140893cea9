"""Benchmark the consent check: one million events against a ledger of 100,000 records.

Run it as a script (not collected by pytest)::

    python tests/bench/bench_consent.py [--events N] [--records N] [--subjects N]

It writes a synthetic ledger to a temporary folder, loads it, then runs the
``usage/collected-while-disabled`` and ``error/no-opt-in`` rules once each over
one chunk of events, and prints events per second and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import audit.rulepack  # noqa: E402
from audit.checks import CHECK_KINDS  # noqa: E402
from audit.context import ScanContext  # noqa: E402
from audit.ledger import load_ledger  # noqa: E402
from audit.model import Stage  # noqa: E402

START = np.datetime64("2026-01-01T00:00:00", "s")
YEAR_S = 365 * 24 * 3600


def write_ledger(path: Path, records: int, subjects: int, rng: np.random.Generator) -> None:
    """Half org-tracing switches over tenants, half opt-in switches over users."""
    half = records // 2
    orgs = np.char.add(np.char.add("tenant", rng.integers(0, subjects, half).astype(str)), ".com")
    users = np.char.add("user", rng.integers(0, subjects, records - half).astype(str))
    seconds = rng.choice(YEAR_S, size=records, replace=False)   # unique: no conflicts
    frame = pd.DataFrame({
        "scope": ["org"] * half + ["user"] * (records - half),
        "subject": np.concatenate([orgs, users]),
        "setting": (["DisableAutomaticSendTracing"] * half
                    + ["ErrorReportingOptIn"] * (records - half)),
        "value": np.where(rng.random(records) < 0.5, "true", "false"),
        "since": pd.Series(START + seconds).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    frame.to_csv(path, index=False)


def make_events(n: int, subjects: int, rng: np.random.Generator) -> pd.DataFrame:
    """Desktop and mobile error events: tenant, UserID and an ISO time string each."""
    seconds = rng.integers(0, YEAR_S, n)
    times = pd.Series(START + seconds).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame({
        "category": "error",
        "client": np.where(rng.random(n) < 0.7, "desktop", "mobile"),
        "platform": "windows",
        "crash": False,
        "tenant": np.char.add(np.char.add("tenant", rng.integers(0, subjects, n).astype(str)),
                              ".com"),
        "UserID": np.char.add("user", rng.integers(0, subjects * 2, n).astype(str)),
        "time": times,
    })


def main() -> None:
    """Time ledger loading and the two checks; report throughput and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace Python allocations (slower; numbers differ)")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    pack = audit.rulepack.load()
    kind = CHECK_KINDS["consent"]

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.csv"
        write_ledger(path, args.records, args.subjects, rng)
        events = make_events(args.events, args.subjects, rng)
        if args.tracemalloc:
            tracemalloc.start()
        started = time.perf_counter()
        ledger = load_ledger(path, pack)
        loaded = time.perf_counter() - started
    print(f"ledger: {len(ledger):,} records loaded in {loaded:.2f} s")

    ctx = ScanContext(stage=Stage.TRANSIT, key=b"bench", ledger=ledger, rulepack=pack)
    for rule_id in ("error/collected-while-disabled", "error/no-opt-in"):
        rule = pack.rules[rule_id]
        started = time.perf_counter()
        found, stats = kind.func(rule, events, ctx)
        checked = time.perf_counter() - started
        started = time.perf_counter()
        assert kind.summarize is not None
        timeline = kind.summarize(rule, [stats], ctx)["consent_timeline"]
        summarized = time.perf_counter() - started
        print(f"{rule_id}: {len(events):,} events in {checked:.2f} s "
              f"= {len(events) / checked:,.0f} events/s; {len(found):,} findings; "
              f"stats {len(stats):,} rows; timeline {len(timeline):,} subjects "
              f"in {summarized:.2f} s")

    if args.tracemalloc:
        _, peak = tracemalloc.get_traced_memory()
        print(f"peak traced Python allocations: {peak / 2**20:,.0f} MiB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024   # bytes on macOS, KiB on Linux
    print(f"peak resident memory: {rss * scale / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
