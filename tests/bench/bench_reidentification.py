"""Peak memory of a scan of 5 million census events over 1 million devices.

Run as a script (not collected by pytest)::

    python tests/bench/bench_reidentification.py [--events 5000000] [--devices 1000000]
                                                 [--work DIR] [--json OUT] [--jobs 1]

The re-identification rules keep per census record only codes and keyed 64-bit
digests (k-anonymity drops the lines of classes that reached k; linkage keeps every
record's digests until the links are resolved), so their state grows by a few tens of
bytes per record. This generates (once, cached in ``--work``) a census of ``--devices``
devices, each with a fixed profile of quasi-identifiers drawn from long-tailed
distributions (so that small classes exist) and about ``events / devices`` records,
plus error reports with cleartext identities, one in a hundred carrying a census
DeviceID; then scans it with the whole built-in pack in a fresh process and reports the
time, the peak RSS (the scanning process's, and its largest child's with ``--jobs``)
and what the re-identification rules found. Acceptance: peak RSS at most 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LIMIT_MB = 1536

APPS = ["Teams", "TeamsAndroid", "iPhoneSkype", "SkypeForBusiness", "TeamsMac"]
MODELS = [f"Model {i:03d}" for i in range(300)]
VERSIONS = [f"10.0.{19000 + i}" for i in range(40)]
OSES = ["Windows", "Android", "iPhoneiOS", "macOS"]
LANGS = ["EN-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR", "es-ES", "it-IT", "nl-NL",
         "sv-SE", "pl-PL", "ko-KR", "zh-CN", "is-IS", "fi-FI", "da-DK"]

SCAN = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
import audit
t = time.perf_counter()
report = audit.scan(inputs=sys.argv[1], quiet=True, jobs=int(sys.argv[3]))
seconds = time.perf_counter() - t
found = {r: report.summary.findings_by_rule.get(r, 0) for r in (
    "census/re-identification-risk", "census/linkable-to-user")}
print(json.dumps({"seconds": seconds, "records": report.summary.records_read,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "findings": found, "summary": report.extras.get("reidentification")}))
"""


def _zipf(rng: random.Random, items: list[str]) -> str:
    """A long-tailed choice: the first items common, the last rare."""
    return items[min(int(rng.paretovariate(1.2)) - 1, len(items) - 1)]


def make_dump(path: Path, events: int, devices: int, seed: int = 5) -> None:
    """The census (records of each device spread over the file) and the error reports."""
    rng = random.Random(seed)
    profiles = []
    for _ in range(devices):
        device = str(uuid.UUID(bytes=rng.randbytes(16), version=4)).upper()
        user = str(uuid.UUID(bytes=rng.randbytes(16), version=4)).upper()
        profiles.append(json.dumps({
            "category": "census", "time": "2026-03-02T10:00:00Z",
            "AppName": _zipf(rng, APPS), "DeviceModel": _zipf(rng, MODELS),
            "OSName": _zipf(rng, OSES), "OSVersion": _zipf(rng, VERSIONS),
            "UserLanguage": _zipf(rng, LANGS), "UserID": user, "DeviceID": device,
            "SignInAttempts": 2, "SignInFailures": 0})[:-1])
    errors = events // 50
    with path.open("w", encoding="utf-8") as out:
        for n in range(events + errors):
            if n % 51 == 50:
                user = f"user{rng.randrange(100_000):05d}"
                extra = (f', "DeviceID": "{json.loads(rng.choice(profiles) + "}")["DeviceID"]}"'
                         if rng.random() < 0.01 else "")
                out.write(json.dumps({
                    "category": "error", "time": "2026-03-02T10:00:00Z", "client": "desktop",
                    "platform": "windows", "tenant": "contoso.com", "UserID": user,
                    "SipUri": f"sip:{user}@contoso.com", "ClientIP": "192.0.2.7",
                    "ErrorCode": "0x80004005"})[:-1] + extra + "}\n")
            else:
                out.write(profiles[rng.randrange(devices)] + "}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/telemetry-audit-bench"))
    parser.add_argument("--json", type=Path, default=HERE / "out" / "bench_reidentification.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    dump = args.work / f"census-{args.events}-{args.devices}.jsonl"
    if not dump.exists():
        make_dump(dump, args.events, args.devices)
    done = subprocess.run([sys.executable, "-c", SCAN, str(dump), str(ROOT), str(args.jobs)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr)
    result = json.loads(done.stdout) | {"events": args.events, "devices": args.devices,
                                         "jobs": args.jobs, "limit_mb": LIMIT_MB}
    for entry in result.pop("summary") or []:
        entry.pop("histogram", None)
        result.setdefault("reidentification", []).append(entry)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    verdict = "within" if result["peak_rss_mb"] <= LIMIT_MB else "OVER"
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB: {verdict} the {LIMIT_MB} MB limit")


if __name__ == "__main__":
    main()
