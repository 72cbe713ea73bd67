"""Figure 3: `sync --all --bulk` through profile-bulk-import jobs, in scaled Klaviyo time.

Run: .venv/bin/python bench/bulk.py [--customers 20000] [--rate-scale 0.25] [--bad 0.01]
Half the customers are linked to existing profiles, half are new; a share (--bad) has an
email Klaviyo refuses, which only the import job finds. Prints customers per minute of scaled
Klaviyo time (wall time / rate scale; target at least 100,000), whether every refused
customer got its own error record at the write stage, the Klaviyo requests by kind, and the
minimum time the same requests need at Klaviyo's limits (the Klaviyo-bound floor).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import time

from common import clear_sandbox_env, customer_ids, engine_on, seed_document

from core.clients.klaviyo import BUCKETS
from core.model import ErrorKind, Stage
from core.sandbox import Knobs


def bucket_of(method: str, path: str) -> str | None:
    parts = path.strip("/").split("/")
    shape = "/".join("{id}" if i == 2 and len(parts) > 2 else p for i, p in enumerate(parts))
    if parts[:2] == ["api", "profile-bulk-import-jobs"] and len(parts) == 3:
        shape = "api/profile-bulk-import-jobs/{job_id}"
    name = f"{method} /{shape}"
    return name if name in BUCKETS else None


def floor_seconds(counts: collections.Counter[str]) -> float:
    """The least time these requests take at Klaviyo's fixed-window limits (per bucket)."""
    worst = 0.0
    for bucket, n in counts.items():
        spec = BUCKETS[bucket]
        windows = math.ceil(n / spec.steady) - 1  # full steady windows waited out
        last = n - windows * spec.steady
        worst = max(worst, windows * 60.0 + (last - 1) / spec.burst)
    return worst


async def main(count: int, scale: float, bad: float) -> None:
    document = seed_document(count, linked=0.5, existing=0.5)
    step = max(1, round(1 / bad)) if bad > 0 else 0
    refused = set()
    for i, c in enumerate(document["customers"]):
        if step and i % step == step - 1 and i >= count // 2:
            c["email_address"] = f"not-an-email-{i}"
            c["customer_number"] = None
            refused.add(str(c["id"]))
    async with engine_on(document, Knobs(rate_scale=scale)) as (engine, _sandbox, tap):
        cpu0, wall0 = time.process_time(), time.monotonic()
        progress = await engine.sync(None, bulk=True)
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        records = {cid: engine.errors.open_for_customer(cid) for cid in refused}
        missing = [cid for cid in customer_ids(count)
                   if not engine.history.for_customer(cid, limit=1)]
    attributed = sum(1 for r in records.values()
                     if r is not None and r.stage is Stage.WRITE
                     and r.kind in (ErrorKind.VALIDATION, ErrorKind.PHONE_REJECTED))
    klaviyo = [row for row in tap.log if row[2].startswith("/api/")]
    kinds = collections.Counter(f"{m} {p.split('/')[2]}" for _, m, p, _ in klaviyo)
    buckets = collections.Counter(b for _, m, p, _ in klaviyo if (b := bucket_of(m, p)))
    klaviyo_minutes = wall / scale / 60
    print(f"bulk: {count} customers (half linked, half new, {len(refused)} refused emails), "
          f"rate scale {scale}")
    print(f"  done {progress.done}, failed {progress.failed}, held {progress.held}; "
          f"lost {count - progress.processed}; without history {len(missing)}")
    print(f"  refused customers with their own write-stage error record: "
          f"{attributed}/{len(refused)}")
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s = {klaviyo_minutes:.2f} min of scaled "
          f"Klaviyo time -> {count / klaviyo_minutes:,.0f} customers/min (target >= 100,000)")
    floor = floor_seconds(buckets)
    print(f"  Klaviyo-bound floor for these requests at real limits: {floor:.1f} s -> "
          f"{count / max(floor, 1e-9) * 60:,.0f} customers/min")
    print("  requests: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"  429s: {sum(1 for r in klaviyo if r[3] == 429)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rate-scale", type=float, default=0.25)
    parser.add_argument("--bad", type=float, default=0.01)
    args = parser.parse_args()
    clear_sandbox_env()
    asyncio.run(main(args.customers, args.rate_scale, args.bad))
