"""Figure 2: a batch at Klaviyo's rate limits, with the windows scaled in time.

Run: .venv/bin/python bench/batch.py [--customers 5000] [--rate-scale 0.05] [--existing 1.0]
Every customer has a profile (linked: a re-sync after a mapping change) unless --existing or
--linked say otherwise. The sandbox enforces Klaviyo's per-endpoint limits with every window
multiplied by the rate scale (0.05: the 60 s steady window lasts 3 s). Prints the profile
writes (PATCH + POST /api/profiles) the emulator accepted in each full steady window against
the 750/window limit (target: at least 95%), the share of requests answered 429 (target:
under 1%), and whether every customer ended in the history (target: zero lost).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import time

from common import clear_sandbox_env, customer_ids, engine_on, seed_document

from core.sandbox import Knobs

STEADY = 750


def is_write(method: str, path: str) -> bool:
    parts = path.strip("/").split("/")
    return (method == "PATCH" and len(parts) == 3 and parts[1] == "profiles") or (
        method == "POST" and parts == ["api", "profiles"])


async def main(count: int, scale: float, existing: float, linked: float) -> None:
    document = seed_document(count, linked=linked, existing=existing)
    knobs = Knobs(rate_scale=scale)
    async with engine_on(document, knobs) as (engine, _sandbox, tap):
        cpu0, wall0 = time.process_time(), time.monotonic()
        progress = await engine.sync(customer_ids(count))
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        history = sum(len(engine.history.for_customer(cid, limit=1)) > 0
                      for cid in customer_ids(count))
        limits = engine.rate_limits()
    window = 60.0 * scale
    writes = sorted(t for t, method, path, status in tap.log
                    if is_write(method, path) and status < 400)
    klaviyo = [row for row in tap.log if row[2].startswith("/api/")]
    throttled = sum(1 for row in klaviyo if row[3] == 429)
    per_window: collections.Counter[int] = collections.Counter()
    start = writes[0] if writes else 0.0
    for stamp in writes:
        per_window[int((stamp - start) // window)] += 1
    full = [per_window[i] for i in range(max(per_window) if per_window else 0)]
    by_call = collections.Counter(f"{m} {p.split('/')[2] if p.count('/') > 1 else p}"
                                  for _, m, p, _ in klaviyo)
    print(f"batch: {count} customers ({existing:.0%} with a profile, {linked:.0%} linked), "
          f"rate scale {scale} (steady window {window:.2f} s)")
    print(f"  done {progress.done}, failed {progress.failed}, held {progress.held}; "
          f"in history {history}/{count}; lost {count - progress.processed}")
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s, {progress.processed / wall:.0f} customers/s")
    print("  load average (1, 5, 15 min) at the end: "
          + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    if full:
        share = sum(full) / len(full) / STEADY
        print(f"  profile writes per full window: {full} -> mean {share:.1%} of {STEADY} "
              f"(target >= 95%)")
    else:
        print(f"  profile writes: {len(writes)} within one window (use more customers)")
    overall = len(writes) / (wall / window) / STEADY if wall else 0.0
    print(f"  profile writes over the whole run: {overall:.1%} of {STEADY} per window")
    print(f"  Klaviyo requests {len(klaviyo)}, answered 429: {throttled} "
          f"({throttled / max(1, len(klaviyo)):.2%}, target < 1%)")
    print("  requests by kind: " + ", ".join(f"{k} {v}" for k, v in by_call.most_common()))
    busiest = sorted(limits.values(), key=lambda s: -s.sent)[:6]
    print("  client buckets: " + ", ".join(f"{s.bucket} sent {s.sent} 429 {s.throttled}"
                                           for s in busiest))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--rate-scale", type=float, default=0.05)
    parser.add_argument("--existing", type=float, default=1.0)
    parser.add_argument("--linked", type=float, default=1.0)
    args = parser.parse_args()
    clear_sandbox_env()
    asyncio.run(main(args.customers, args.rate_scale, args.existing, args.linked))
