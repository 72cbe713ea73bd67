"""Figure 7: peak RSS of a batch of N customers against one of N/10, each in its own process.

Run: .venv/bin/python bench/memory.py [--sizes 10000,100000] [--rate-scale 0.001]
Each size runs in a fresh subprocess: seed an in-memory sandbox (no state persistence) with N
linked customers, run engine.sync over all of them, print the peak resident set size. The
sandbox's own accounts grow with N by design, so the batch's share is also shown: peak RSS
minus the RSS after seeding. Target: the large batch's peak at most 1.2x the small one's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

from common import clear_sandbox_env, engine_on, peak_rss_mb, seed_document

from core.sandbox import Knobs


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one(count: int, scale: float) -> dict[str, float]:
    document = seed_document(count)
    async with engine_on(document, Knobs(rate_scale=scale)) as (engine, _sandbox, tap):
        del document
        tap.log = _Discard()
        seeded = current_rss_mb()
        peak_before = peak_rss_mb()
        progress = await engine.sync(None)
        return {"customers": count, "processed": progress.processed, "seeded_mb": seeded,
                "peak_before_mb": peak_before, "peak_mb": peak_rss_mb()}


class _Discard(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


def main(sizes: list[int], scale: float) -> None:
    results = []
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(size),
                              "--rate-scale", str(scale)],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"memory: batch (sync --all) in a fresh process per size, rate scale {scale}")
    for r in results:
        print(f"  {r['customers']:>7,} customers: peak RSS {r['peak_mb']:.0f} MB "
              f"(after seeding the sandbox {r['seeded_mb']:.0f} MB, batch adds "
              f"{r['peak_mb'] - r['seeded_mb']:.0f} MB); processed {r['processed']:,}")
    small, large = results[0], results[-1]
    share = (large["peak_mb"] - large["seeded_mb"]) / max(
        1.0, small["peak_mb"] - small["seeded_mb"])
    print(f"  peak ratio {large['peak_mb'] / small['peak_mb']:.2f}x, batch share ratio "
          f"{share:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rate-scale", type=float, default=0.001)
    parser.add_argument("--one", type=int)
    args = parser.parse_args()
    clear_sandbox_env()
    if args.one:
        print(json.dumps(asyncio.run(one(args.one, args.rate_scale))))
    else:
        main([int(s) for s in args.sizes.split(",")], args.rate_scale)
