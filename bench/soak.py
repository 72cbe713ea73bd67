"""Fault soak: 2,000 transfers through the sandbox with 20% faults on both APIs, then retry-all.

Run: .venv/bin/python bench/soak.py [--customers 2000] [--failure-rate 0.2] [--seed 8]
         [--attempts 2] [--workers 10] [--bulk]
Prints what the faults did (by request kind and outcome), how many customers synced at once,
how many were left in the error log (and as what), the result of `retry --all` with faults off,
duplicate profiles (by email, phone and external id) and unhandled exceptions. Exit code 1 when
any check fails. The same logic runs at 200 customers in tests/reliability/test_fault_soak.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.harness import SoakFigures, fault_soak


def failures(f: SoakFigures) -> list[str]:
    """The checks of issue 8 item 1 that the figures break, in words."""
    out = []
    if f.unaccounted_first:
        out.append(f"{len(f.unaccounted_first)} customers neither synced nor logged")
    if f.not_retryable_first:
        out.append(f"{len(f.not_retryable_first)} customers logged as not retryable")
    if f.synced_after_retry != f.customers:
        out.append(f"retry-all left {f.customers - f.synced_after_retry} customers unsynced")
    if f.duplicates:
        out.append(f"duplicate profiles: {f.duplicates[:5]}")
    if f.wrong_links:
        out.append(f"links to another customer's profile: {f.wrong_links[:5]}")
    if f.unhandled:
        out.append(f"{len(f.unhandled)} unhandled exceptions: {f.unhandled[:3]}")
    if f.profiles_after != f.profiles_before + f.creates_expected:
        out.append(f"profiles {f.profiles_after}, expected "
                   f"{f.profiles_before + f.creates_expected}")
    return out


def report(f: SoakFigures) -> None:
    print(f"customers                 {f.customers}")
    print(f"failure rate              {f.failure_rate:.0%} of requests, both APIs")
    print(f"requests faulted          {f.requests_faulted}")
    lost = sum(n for k, n in f.outcomes.items()
               if k.startswith("klaviyo create") and ("ReadTimeout" in k or "truncated" in k))
    dup = f.outcomes.get("klaviyo create 409 json", 0)
    print(f"creates lost after write  {lost} (answered by a 409 duplicate on retry: {dup})")
    print("faults by request and outcome:")
    for key, count in f.outcomes.items():
        if "404" not in key:
            print(f"  {key:<40} {count}")
    print(f"sync                      {f.sync_seconds:.1f} s; synced {f.synced_first}, "
          f"in the error log {f.open_first} {f.open_kinds}")
    print(f"retry --all (faults off)  {f.retry_seconds:.1f} s; synced {f.synced_after_retry} "
          f"of {f.customers}, still open {len(f.open_after_retry)}")
    print(f"profiles                  {f.profiles_before} seeded + {f.creates_expected} new "
          f"expected, {f.profiles_after} found")
    print(f"duplicate profiles        {len(f.duplicates)}")
    print(f"wrong links               {len(f.wrong_links)}")
    print(f"unhandled exceptions      {len(f.unhandled)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--failure-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--attempts", type=int, default=2,
                        help="client attempts per API call before a failure is logged")
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--bulk", action="store_true",
                        help="sync --bulk: profile writes as bulk import jobs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        figures = asyncio.run(fault_soak(
            Path(tmp) / "state", args.customers, failure_rate=args.failure_rate,
            seed=args.seed, workers=args.workers, attempts=args.attempts,
            bulk=args.bulk))
    report(figures)
    broken = failures(figures)
    for line in broken:
        print(f"FAIL: {line}")
    print("OK" if not broken else "FAILED")
    return 0 if not broken else 1


if __name__ == "__main__":
    raise SystemExit(main())
