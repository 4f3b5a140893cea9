"""Benchmark a full scan against parsing alone, at 1 and 5 million events.

Run as a script (not collected by pytest)::

    python tests/bench/bench_scan.py [--sizes 1000000 5000000] [--work DIR] [--json OUT]
                                     [--engine pandas|dask --workers 1 2] [--floor]

For each size it generates a reference-format dump with ~5% violations (once,
cached in ``--work``), then measures, each in a fresh process so peak memory is
its own:

- parse-only: pyarrow reading the file into a pandas DataFrame;
- scan: ``audit.scan`` with the whole built-in pack, the ledger and 10,000
  identities (report rendering excluded), in 1 and 2 processes (``--jobs``: the
  file is cut at line ends into parts); with ``--engine dask`` the dump is cut
  into ``--split`` files (the partitions) and scanned on a local cluster of each
  ``--workers`` count. Peak RSS is the scanning process's; the largest child
  process (a ``--jobs`` worker, or a local Dask worker once it has exited) is
  reported beside it, and its CPU seconds (user and system, of the process and the
  worker processes it waited for, whole processes with their imports: compare them
  between trees, not with the timed seconds; CPU varies less than wall time on a
  shared machine);

and prints a table (seconds, ratio, events per second, peak RSS) and writes it
as JSON. ``--before DIR`` names another source tree of the project (e.g. a
``git worktree`` of an earlier commit): every scan is run with it too, in the same
rounds, so a change is measured before and after on the same machine at the same time
(the ``tree`` column). A shared or virtual machine varies by 10% or more from run to run:
``--repeat N`` runs N rounds of every measurement and reports the median run of each
(every run's time is kept in the JSON). ``--floor`` also scans with every rule skipped
(``rules`` column ``none``; ``all`` is the whole pack): the same start-up, loading of the
ledger and directory, reading, normalising and collecting, and no check, so its ratio is
the least any rule pack could reach on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from tabulate import tabulate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

PARSE = """
import resource, sys, time
import pyarrow.json as pj
t = time.perf_counter()
frame = pj.read_json(sys.argv[1]).to_pandas()
seconds = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF)
print(seconds, len(frame), me.ru_maxrss, me.ru_utime + me.ru_stime)
"""

SCAN = """
import resource, sys, time
sys.path.insert(0, sys.argv[5])
import audit
t = time.perf_counter()
n = int(sys.argv[6])
extra = {"workers": n} if sys.argv[4] == "dask" else {"jobs": n}
if sys.argv[7] == "none":
    extra["skip_rules"] = ("*/*",)
report = audit.scan(inputs=sys.argv[1], ledger=sys.argv[2], identities=sys.argv[3],
                    engine=sys.argv[4], quiet=True, **extra)
seconds = time.perf_counter() - t
me, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN))
print(seconds, report.summary.records_read, me.ru_maxrss, len(report.findings),
      children.ru_maxrss, me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime)
"""


def run(code: str, *args: str) -> list[float]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(done.stderr)
    return [float(x) for x in done.stdout.split()]


def median(runs: list[list[float]]) -> list[float]:
    """The run of median time (its own figures: memory and time come from one run)."""
    middle = statistics.median_low([r[0] for r in runs])
    return next(r for r in runs if r[0] == middle)


def dump_for(size: int, work: Path) -> Path:
    path = work / f"events-{size}.jsonl"
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "make_dump.py"), str(work), "--events",
                        str(size)], check=True)
    return path


def split_for(dump: Path, parts: int) -> Path:
    """The dump cut into ``parts`` JSON Lines files in a folder: the Dask partitions."""
    folder = dump.with_name(f"{dump.stem}-x{parts}")
    if folder.exists():
        return folder
    folder.mkdir()
    lines = sum(1 for _ in dump.open("rb"))
    per = -(-lines // parts)
    with dump.open("rb") as source:
        for k in range(parts):
            with (folder / f"part-{k:03d}.jsonl").open("wb") as out:
                for _ in range(per):
                    line = source.readline()
                    if not line:
                        break
                    out.write(line)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/telemetry-audit-bench"))
    parser.add_argument("--json", type=Path, default=HERE / "out" / "bench_scan.json")
    parser.add_argument("--engine", default="pandas", choices=["pandas", "dask"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="processes: --jobs of the pandas engine, or dask workers")
    parser.add_argument("--split", type=int, default=8,
                        help="with --engine dask: files the dump is cut into (partitions)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each measurement; the median one is reported")
    parser.add_argument("--before", type=Path, default=None,
                        help="another source tree of the project, scanned with too")
    parser.add_argument("--floor", action="store_true",
                        help="also scan with every rule skipped (rules: none): what the "
                             "scan costs before any rule runs")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        dump = dump_for(size, args.work)
        target = split_for(dump, args.split) if args.engine == "dask" else dump
        # Rounds of every measurement in turn, so a slow spell of the machine falls on
        # parsing and scanning alike.
        trees = {"this": ROOT, **({"before": args.before.resolve()} if args.before else {})}
        parse_runs: list[list[float]] = []
        rule_sets = ["all", "none"] if args.floor else ["all"]
        scan_runs: dict[tuple[str, str, int], list[list[float]]] = {
            (tree, rules, w): [] for tree in trees for rules in rule_sets
            for w in args.workers}
        for _ in range(args.repeat):
            parse_runs.append(run(PARSE, str(dump)))
            for tree, rules, workers in scan_runs:
                scan_runs[tree, rules, workers].append(run(
                    SCAN, str(target), str(args.work / "ledger.csv"),
                    str(args.work / "directory.csv"), args.engine, str(trees[tree]),
                    str(workers), rules))
        parse_s, parsed, parse_rss, parse_cpu = median(parse_runs)
        for (tree, rules, workers), runs in scan_runs.items():
            scan_s, read, scan_rss, findings, child_rss, scan_cpu = median(runs)
            assert int(parsed) == int(read) == size, (parsed, read, size)
            rows.append({
                "events": size, "tree": tree, "rules": rules, "engine": args.engine,
                "workers": workers,
                "parse_s": round(parse_s, 2), "scan_s": round(scan_s, 2),
                "ratio": round(scan_s / parse_s, 2), "events_per_s": round(size / scan_s),
                "parse_cpu_s": round(parse_cpu, 2), "scan_cpu_s": round(scan_cpu, 2),
                "parse_peak_rss_mb": round(parse_rss / 1024), "scan_peak_rss_mb":
                round(scan_rss / 1024), "largest_child_rss_mb": round(child_rss / 1024),
                "findings": int(findings),
                "runs": {"parse_s": [round(r[0], 2) for r in parse_runs],
                         "scan_s": [round(r[0], 2) for r in runs],
                         "scan_cpu_s": [round(r[-1], 2) for r in runs]},
            })
            print(rows[-1], flush=True)
    print(tabulate([{k: v for k, v in row.items() if k != "runs"} for row in rows],
                   headers="keys"))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
