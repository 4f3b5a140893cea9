"""Throughput of detectors.detect() on 1M telemetry-like values (run by hand, not by pytest).

    python tests/bench/bench_detectors.py [--rows 1000000]

Prints build time of the known-identities automaton (10,000 identities), the
search time per 200-character string, and detect() rows/second with 0 and
10,000 identities.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

import pandas as pd

from audit.detectors import ENTITIES, KnownIdentities, detect


def make_values(rows: int, seed: int = 7) -> pd.Series:
    """Practices-like values: repeated enums and versions, unique GUIDs, a little PII."""
    rnd = random.Random(seed)
    pool = ["iPhoneSkype", "iPhone", "EN-US", "8.3", "Incoming", "Idle", "12", "30 mins",
            "-2147467259", "AdDO8hsJqilU93hQHC3OZaPR2saEA==", "16.0.4483.1000",
            "connect failed to 203.0.113.7", "Amos Marble's iPhone", "amos.marble@contoso.com",
            "password=hunter22 in log"]
    out = []
    for i in range(rows):
        r = rnd.random()
        if r < 0.3:
            out.append(str(uuid.UUID(int=rnd.getrandbits(128), version=4)).upper())
        elif r < 0.35:
            out.append(f"error {i % 5000} at step {i % 97}: timeout after {i % 30} s")
        else:
            out.append(rnd.choice(pool))
    return pd.Series(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    values = make_values(args.rows)
    print(f"{len(values):,} values, {values.nunique():,} distinct")

    start = time.perf_counter()
    known = KnownIdentities(
        [("email", f"user{i}.name@contoso.com") for i in range(5_000)]
        + [("display_name", f"User{i} Surname{i}") for i in range(5_000)]
    )
    print(f"build 10,000 identities: {time.perf_counter() - start:.2f} s")
    text = ("Exception in module X: connection reset by peer while sending telemetry batch "
            "to endpoint; retry 3 of 5; session 5E872200-F546-4CCD-8F23-AF5F507AA2DD; "
            "state=Idle; direction=Incoming; code=0x80004005 ok")[:200]
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        known.find(text)
    print(f"search one {len(text)}-char string: {(time.perf_counter() - start) / n * 1e6:.1f} µs")

    entities = [e for e in ENTITIES if e != "ORG_DOMAIN"]
    for label, ids in (("0 identities", None), ("10,000 identities", known)):
        start = time.perf_counter()
        out = detect(values, entities, identities=ids)
        elapsed = time.perf_counter() - start
        print(f"detect, {label}: {elapsed:.2f} s, {len(values) / elapsed:,.0f} rows/s, "
              f"{len(out):,} rows flagged")


if __name__ == "__main__":
    main()
