"""Content-search prefilters: RE2 pattern by pattern (as the scan runs them) against one
Hyperscan pass per set of values (run by hand, not by pytest).

Run as a script::

    python tests/bench/bench_prefilter_engines.py [--events 500000] [--work DIR] [--json OUT]

Why it exists: issue 14 chose Hyperscan for per-value matching. The secret catalogue
uses it (hundreds of formats, few hits each). The PII detectors' prefilters are few
(about twenty) and broad (digits, ``@``, separators), and each runs as one vectorised
RE2 call over a column's distinct values in pyarrow. This script measures which route
is faster on the same work.

It scans a reference dump (made by ``make_dump.py``, cached in ``--work``) in one
process with the built-in pack. Every prefilter call the content search makes is
recorded: the Arrow array of distinct values and the pattern. The RE2 time is the
scan's own time in those calls. Each recorded array is then searched again, with all
the patterns asked of it compiled into one Hyperscan database (compiled once per set of
patterns, not timed, as the catalogue's is cached). The values are joined with newlines
into one buffer, each match end is mapped back to its value with ``numpy.searchsorted``,
and every pattern gets a hit mask. The Hyperscan time covers the join, the scan, its
Python match callbacks and the mapping. Both routes must give the same masks; the
script counts the values where they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tabulate import tabulate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))


def record_prefilters(dump: Path, work: Path) -> tuple[list[tuple[Any, list[str]]], float, float]:
    """Scan ``dump`` and record every prefilter call: (values, patterns asked of them),
    the seconds spent in those calls, and the whole scan's seconds."""
    import audit
    from audit.detectors import scan

    calls: dict[int, tuple[Any, list[str]]] = {}
    spent = [0.0]
    original = scan._prefilter_mask

    def recorded(values: Any, pattern: str) -> Any:
        started = time.perf_counter()
        found = original(values, pattern)
        spent[0] += time.perf_counter() - started
        calls.setdefault(id(values), (values, []))[1].append(pattern)
        return found

    scan._prefilter_mask = recorded
    try:
        started = time.perf_counter()
        audit.scan(inputs=str(dump), ledger=str(work / "ledger.csv"),
                   identities=str(work / "directory.csv"), jobs=1, quiet=True)
        total = time.perf_counter() - started
    finally:
        scan._prefilter_mask = original
    return list(calls.values()), spent[0], total


def hyperscan_masks(database: Any, values: Any, count: int) -> tuple[list[Any], float]:
    """One Hyperscan pass over ``values`` joined by newlines: a hit mask per pattern id."""
    import numpy as np

    started = time.perf_counter()
    texts = values.to_pylist()
    encoded = [t.encode("utf-8") for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    ends = np.cumsum(lengths + 1) - 1  # offset of the separator after each value
    hits: list[list[int]] = [[] for _ in range(count)]

    def on_match(pattern: int, start: int, end: int, flags: int, context: Any) -> None:
        hits[pattern].append(end)

    database.scan(b"\n".join(encoded), match_event_handler=on_match)
    masks = []
    for found in hits:
        mask = np.zeros(len(texts), dtype=bool)
        if found:
            # an end at a separator belongs to the value before it ($ matches there)
            mask[np.searchsorted(ends, np.asarray(found, dtype=np.int64), side="left")] = True
        masks.append(mask)
    return masks, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/telemetry-audit-bench"))
    parser.add_argument("--json", type=Path,
                        default=HERE / "out" / "bench_prefilter_engines.json")
    args = parser.parse_args()
    from bench_scan import dump_for  # beside this script: made once, cached in --work

    dump = dump_for(args.events, args.work)

    import hyperscan
    import pyarrow.compute as pc

    calls, re2_seconds, scan_seconds = record_prefilters(dump, args.work)
    flags = hyperscan.HS_FLAG_MULTILINE | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_ALLOWEMPTY
    databases: dict[tuple[str, ...], Any] = {}
    refused: set[str] = set()
    hs_seconds = 0.0
    differing = values_seen = 0
    per_set: dict[int, int] = defaultdict(int)
    for values, asked in calls:
        patterns = tuple(dict.fromkeys(asked))
        per_set[len(patterns)] += 1
        usable = tuple(p for p in patterns if p not in refused)
        database = databases.get(usable)
        if database is None:
            for p in usable:  # the patterns Hyperscan refuses stay with RE2
                try:
                    hyperscan.Database().compile(expressions=[p.encode()], flags=[flags])
                except hyperscan.error:
                    refused.add(p)
            usable = tuple(p for p in usable if p not in refused)
            database = hyperscan.Database()
            database.compile(expressions=[p.encode() for p in usable],
                             ids=list(range(len(usable))), flags=[flags] * len(usable))
            databases[usable] = database
        masks, seconds = hyperscan_masks(database, values, len(usable))
        hs_seconds += seconds
        values_seen += len(values)
        for pattern, mask in zip(usable, masks, strict=True):
            expected = pc.fill_null(pc.match_substring_regex(values, pattern), False)
            differing += int((expected.to_numpy(zero_copy_only=False) != mask).sum())
    rows = [
        {"route": "RE2, one call per prefilter (now)", "seconds": round(re2_seconds, 3),
         "share of scan": f"{re2_seconds / scan_seconds:.1%}"},
        {"route": "Hyperscan, one pass per array", "seconds": round(hs_seconds, 3),
         "share of scan": f"{hs_seconds / scan_seconds:.1%}"},
    ]
    print(tabulate(rows, headers="keys"))
    print(f"{len(calls):,} arrays of distinct values ({values_seen:,} values), "
          f"{sum(len(a) for _, a in calls):,} prefilter calls; patterns per array: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(per_set.items()))
          + f"; refused by Hyperscan: {len(refused)}; values where the masks differ: "
          f"{differing:,}; whole scan {scan_seconds:.2f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows, "arrays": len(calls),
                                     "values": values_seen, "differing": differing,
                                     "refused": sorted(refused),
                                     "scan_seconds": round(scan_seconds, 3)}, indent=2) + "\n",
                         "utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
