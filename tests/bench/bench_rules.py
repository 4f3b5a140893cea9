"""Where a scan's time goes: seconds per rule, beside reading and the rest (run by hand).

Run as a script (not collected by pytest)::

    python tests/bench/bench_rules.py [--events 500000] [--work DIR] [--json OUT]

It scans a reference dump (made by ``make_dump.py``, cached in ``--work``) in one
process with the built-in pack, the ledger and the 10,000 identities, and times each
rule's check on every chunk (the time a rule's kind spends on the rows it selects,
variants included), and the steps around them: loading, reading and normalising,
turning hits into findings, finishing cross-record rules, collecting the findings.
Speed work starts from the top of this table: the scan's cost is spread over the
rules, so no single one decides it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tabulate import tabulate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))


def _timed(module: Any, name: str, totals: Counter[str], key: Any) -> None:
    """Wrap ``module.name`` so that its time is added to ``totals[key(args)]``."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key(args)] += time.perf_counter() - started

    setattr(module, name, wrapper)


def _timed_iter(module: Any, name: str, totals: Counter[str], key: str) -> None:
    """Wrap the generator function ``module.name``: the time spent producing its items."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        items = iter(original(*args, **kwargs))
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                totals[key] += time.perf_counter() - started
                return
            totals[key] += time.perf_counter() - started
            yield item

    setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/telemetry-audit-bench"))
    parser.add_argument("--json", type=Path, default=HERE / "out" / "bench_rules.json")
    args = parser.parse_args()
    from bench_scan import dump_for  # beside this script: made once, cached in --work

    dump = dump_for(args.events, args.work)

    import audit
    from audit import checking, engine, units

    rules: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    _timed(checking, "_checked", rules, lambda a: a[0].id)
    _timed(checking, "finding_batch", steps, lambda a: "hits → findings")
    _timed(engine, "prepare", steps, lambda a: "load rules, ledger, identities, catalogue")
    _timed(engine, "finish_rule", steps, lambda a: "finish cross-record rules")
    _timed(engine, "collect_findings", steps, lambda a: "collect findings, baseline")
    _timed_iter(units, "iter_chunks", steps, "read and normalise")
    started = time.perf_counter()
    report = audit.scan(inputs=str(dump), ledger=str(args.work / "ledger.csv"),
                        identities=str(args.work / "directory.csv"), jobs=1, quiet=True)
    total = time.perf_counter() - started
    checked = sum(rules.values())
    rows = [{"what": rule, "seconds": round(s, 2), "share": f"{s / total:.1%}"}
            for rule, s in rules.most_common()]
    rows += [{"what": step, "seconds": round(s, 2), "share": f"{s / total:.1%}"}
             for step, s in steps.most_common()]
    rest = total - checked - sum(steps.values())
    rows.append({"what": "everything else (selecting rows, imports, per-chunk upkeep)",
                 "seconds": round(rest, 2), "share": f"{rest / total:.1%}"})
    rows.append({"what": "whole scan", "seconds": round(total, 2), "share": "100%"})
    print(tabulate(rows, headers="keys"))
    print(f"{report.summary.records_read:,} events, {len(report.findings):,} findings, "
          f"{report.summary.records_read / total:,.0f} events/s in one process")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
