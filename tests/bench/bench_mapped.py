"""Benchmark the mapped path: the scale benchmark's events as 1DS Common Schema events,
scanned with ``--mapping common-schema``, beside the same events in the reference format.

Run as a script (not collected by pytest)::

    python tests/bench/bench_mapped.py [--sizes 1000000] [--work DIR] [--json OUT]
                                       [--workers 1 2] [--repeat N]

Each reference event becomes the Common Schema event a 1DS SDK would post: part A
(``ver``, ``name`` by category, ``time``, ``iKey``), census fields under ``ext.app``,
``ext.device``, ``ext.os`` and ``ext.user`` with their ids prefixed (``s:`` before the
DeviceID, ``w:`` before a census UserID, ``c:`` before an error UserID), the client's
address under ``ext.loc.ip``, SDK bookkeeping under ``ext.sdk``, everything else as
part C under ``data``. Both dumps are scanned in fresh processes (ledger and identities
as in ``bench_scan.py``); the table gives seconds, the mapped/reference ratio and peak
memory, and the run fails unless both scans give the same findings (rule, line, field):
the mapping loses nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tabulate import tabulate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE)]

from bench_scan import dump_for, median, run  # noqa: E402

CENSUS = {"AppName": ("app", "name"), "DeviceModel": ("device", "model"),
          "OSName": ("os", "name"), "OSVersion": ("os", "ver"),
          "UserLanguage": ("user", "locale")}
NAMES = {"census": "Microsoft.Teams.Census", "usage": "Microsoft.Teams.Usage.Activity",
         "error": "Microsoft.Teams.Error.Report"}

SCAN = """
import hashlib, resource, sys, time
sys.path.insert(0, sys.argv[4])
import audit
t = time.perf_counter()
mapping = sys.argv[6] or None
report = audit.scan(inputs=sys.argv[1], ledger=sys.argv[2], identities=sys.argv[3],
                    quiet=True, jobs=int(sys.argv[5]), mapping=mapping)
seconds = time.perf_counter() - t
keys = sorted(f"{f.rule} {f.line} {f.field}" for f in report.findings)
digest = int(hashlib.sha256("\\n".join(keys).encode()).hexdigest()[:12], 16)
print(seconds, report.summary.records_audited, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      len(report.findings), digest)
"""


def common_schema(event: dict) -> dict:
    """The reference event as a 1DS SDK would send it."""
    category = event.get("category")
    out: dict = {"ver": "4.0", "name": NAMES.get(category, "Microsoft.Teams.Other"),
                 "time": event.get("time"), "iKey": "o:4b6e9c2a1d8f4e0b",
                 "ext": {"sdk": {"ver": "1DS-Web-JS-4.3.3", "seq": 1}}}
    ext, data = out["ext"], {}
    for name, value in event.items():
        if name in ("category", "time"):
            continue
        if category == "census" and name in CENSUS:
            part, key = CENSUS[name]
            ext.setdefault(part, {})[key] = value
        elif name == "DeviceID" and category == "census":
            ext.setdefault("device", {})["localId"] = f"s:{value}"
        elif name == "UserID" and category in ("census", "error"):
            prefix = "w" if category == "census" else "c"
            ext.setdefault("user", {})["localId"] = f"{prefix}:{value}"
        elif name == "ClientIP" and category == "error":
            ext.setdefault("loc", {})["ip"] = value
        else:
            data[name] = value
    if data:
        out["data"] = data
    return out


def mapped_dump(dump: Path) -> Path:
    path = dump.with_name(f"{dump.stem}-cs.jsonl")
    if path.exists():
        return path
    with dump.open(encoding="utf-8") as source, path.open("w", encoding="utf-8") as out:
        for line in source:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                out.write(line)  # a malformed line stays one
                continue
            out.write(json.dumps(common_schema(event) if isinstance(event, dict) else event)
                      + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/telemetry-audit-bench"))
    parser.add_argument("--json", type=Path, default=HERE / "out" / "bench_mapped.json")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ledger, directory = str(args.work / "ledger.csv"), str(args.work / "directory.csv")
    rows = []
    for size in args.sizes:
        reference = dump_for(size, args.work)
        mapped = mapped_dump(reference)
        for workers in args.workers:
            runs: dict[str, list[list[float]]] = {"reference": [], "mapped": []}
            for _ in range(args.repeat):  # alternated, so a slow spell hits both
                runs["reference"].append(run(SCAN, str(reference), ledger, directory, str(ROOT),
                                             str(workers), ""))
                runs["mapped"].append(run(SCAN, str(mapped), ledger, directory, str(ROOT),
                                          str(workers), "common-schema"))
            ref, cs = (median(runs[k]) for k in ("reference", "mapped"))
            same = ref[1] == cs[1] and ref[3] == cs[3] and ref[4] == cs[4]
            rows.append({"events": size, "jobs": workers,
                         "reference_s": round(ref[0], 2), "mapped_s": round(cs[0], 2),
                         "ratio": round(cs[0] / ref[0], 2),
                         "reference_mib": round(ref[2] / 1024), "mapped_mib": round(cs[2] / 1024),
                         "findings": int(ref[3]), "same_findings": same})
    print(tabulate(rows, headers="keys"))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    if not all(r["same_findings"] for r in rows):
        raise SystemExit("the mapped scan's findings differ from the reference scan's")


if __name__ == "__main__":
    main()
