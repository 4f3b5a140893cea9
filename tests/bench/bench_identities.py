"""Loading a large known-identities list (run by hand, not by pytest).

    python tests/bench/bench_identities.py [--count 100000] [--csv ids.csv]

Writes a directory of ``--count`` realistic identities of mixed kinds (a person's
e-mail, UPN, SIP address, user name, display name, object id, phone, device serial and
MAC; now and then an IP, an organisation name or a tenant domain), then loads it with
``load_identities`` in a fresh process, as a scan does, and prints the load time (wall
and CPU: on a busy machine the CPU time is the steadier), the peak RSS of that process,
and what the identities alone cost over the imports. The list is kept with ``--csv``
(e.g. to scan a dump with it).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

FIRST = ["Amos", "Priya", "Zoë", "Jun", "Olu", "María", "Liam", "Aiko", "Noor", "Sven",
         "Chloé", "Dmitri", "Fatima", "Kwame", "Ingrid", "Mateo", "Yara", "Björn"]
LAST = ["Marble", "Kumar", "O'Brien", "Tanaka", "Adeyemi", "García", "Walsh", "Sato",
        "Haddad", "Lindqvist", "Dubois", "Volkov", "Rahman", "Mensah", "Berg", "Rossi"]
DOMAINS = ["contoso.com", "fabrikam.com", "northwindtraders.com", "adatum.com",
           "litwareinc.com", "tailspintoys.com", "wingtiptoys.com", "woodgrovebank.com"]

#: In a fresh process: load the list, then print the time and the peak RSS as JSON.
CHILD = """
import json, resource, sys, time
from audit.detectors.known import load_identities
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu = time.perf_counter(), time.process_time()
known = load_identities(sys.argv[1])
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"count": len(known), "seconds": elapsed, "cpu": cpu, "peak_kib": peak,
                  "base_kib": base}))
"""


def make_identities(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """``count`` (kind, value) rows, person by person, with organisations mixed in."""
    rnd = random.Random(seed)
    rows: list[tuple[str, str]] = []
    person = 0
    while len(rows) < count:
        person += 1
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        domain = rnd.choice(DOMAINS)
        login = f"{first}.{last}{person}".lower().replace("'", "")
        rows += [
            ("email", f"{login}@{domain}"),
            ("upn", f"{first[0]}{last}{person}@{domain.split('.')[0]}.onmicrosoft.com"),
            ("sip", f"sip:{login}@{domain}"),
            ("username", f"{first[0].lower()}{last.lower()}{person}".replace("'", "")),
            ("display_name", f"{first} {last} {person}"),
            ("object_id", str(uuid.UUID(int=rnd.getrandbits(128), version=4))),
            ("phone", f"+1 {rnd.randint(200, 999)} 555 {rnd.randint(0, 9999):04d}"),
            ("device_serial", "".join(rnd.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                                      for _ in range(12))),
            ("mac", ":".join(f"{rnd.getrandbits(8):02X}" for _ in range(6))),
        ]
        if rnd.random() < 0.2:
            rows.append(("ip", f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}."
                               f"{rnd.randint(1, 254)}"))
        if rnd.random() < 0.05:
            rows.append(("org_name", f"{last} {rnd.choice(['Ltd', 'Inc', 'GmbH'])} {person}"))
            rows.append(("tenant_domain", f"{last.lower()}{person}.example".replace("'", "")))
    return rows[:count]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", "value"])
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--csv", type=Path, help="write the list here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.csv or Path(tmp) / "identities.csv"
        write_csv(path, make_identities(args.count))
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True,
                             capture_output=True, text=True).stdout
    result = json.loads(out)
    print(f"load {result['count']:,} identities: {result['seconds']:.2f} s "
          f"({result['cpu']:.2f} s CPU), "
          f"peak RSS {result['peak_kib'] / 1024:,.0f} MiB "
          f"({(result['peak_kib'] - result['base_kib']) / 1024:,.0f} MiB over the imports)")


if __name__ == "__main__":
    main()
