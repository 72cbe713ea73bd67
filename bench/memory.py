"""Figure 7: peak RSS of the engine running a batch of N customers against one of N/10.

Run: .venv/bin/python bench/memory.py [--sizes 10000,100000] [--rate-scale 0.001] [--bulk]
Each size runs in a fresh engine process; the sandbox runs in a process of its own
(bench/served.py, which also builds the seed), so what is measured is the console's engine,
not the emulators, which hold every customer and profile by design. The engine runs `sync`
over every customer (streamed page by page, as `sync --all`). Prints the peak resident set
size, the RSS when the batch began, and RSS samples during the run with the growth per 1,000
customers. Target: the large batch's peak at most 1.2x the small one's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from common import clear_sandbox_env, peak_rss_mb
from served import served_engine


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one(count: int, scale: float, bulk: bool, trace: bool) -> dict[str, object]:
    async with served_engine(f"generate:{count}:1", scale) as (engine, _server):
        gc.collect()
        start_rss = current_rss_mb()
        samples: list[tuple[int, float]] = []
        last = [0.0]
        early: list[tracemalloc.Snapshot] = []
        if trace:
            tracemalloc.start(8)

        def sample(progress: object) -> None:
            now = time.monotonic()
            processed = getattr(progress, "processed", 0)
            if trace and not early and processed >= count // 5:
                early.append(tracemalloc.take_snapshot())
            if now - last[0] >= 1.0:
                last[0] = now
                samples.append((processed, current_rss_mb()))
                if len(samples) % 60 == 0:  # a long run shows where it is, once a minute
                    print(f"    {count:,}: {processed:,} processed, RSS {samples[-1][1]:.1f} MB, "
                          f"peak {peak_rss_mb():.1f} MB", file=sys.stderr, flush=True)

        wall0 = time.monotonic()
        progress = await engine.sync(None, bulk=bulk, on_progress=sample)
        wall = time.monotonic() - wall0
        growth: list[str] = []
        if trace and early:
            gc.collect()
            diff = tracemalloc.take_snapshot().compare_to(early[0], "traceback")
            for stat in diff[:12]:
                frames = [f"{f.filename.rsplit('/main/', 1)[-1]}:{f.lineno}"
                          for f in stat.traceback][:4]
                growth.append(f"{stat.size_diff / 1024:+.0f} KB in {stat.count_diff:+} blocks "
                              f"at {' < '.join(frames)}")
        return {"customers": count, "processed": progress.processed, "done": progress.done,
                "start_mb": start_rss, "end_mb": current_rss_mb(), "peak_mb": peak_rss_mb(),
                "wall": wall, "samples": samples, "growth": growth}


def slope(samples: list[list[float]]) -> float:
    """MB per 1,000 customers over the second half of the run (least squares)."""
    half = samples[len(samples) // 2:]
    if len(half) < 2:
        return 0.0
    xs = [s[0] / 1000 for s in half]
    ys = [s[1] for s in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def main(sizes: list[int], scale: float, bulk: bool, trace: bool) -> None:
    results = []
    for size in sizes:
        args = [sys.executable, __file__, "--one", str(size), "--rate-scale", str(scale)]
        out = subprocess.run(args + (["--bulk"] if bulk else []) + (["--trace"] if trace else []),
                             stdout=subprocess.PIPE, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    kind = "sync --all --bulk" if bulk else "sync --all"
    print(f"memory: engine process only ({kind}; sandbox served from its own process), "
          f"rate scale {scale}")
    for r in results:
        print(f"  {r['customers']:>7,} customers: peak RSS {r['peak_mb']:.1f} MB (at start "
              f"{r['start_mb']:.1f}, at end {r['end_mb']:.1f}); processed {r['processed']:,} "
              f"in {r['wall']:.0f} s; growth {slope(r['samples']) * 1024:+.1f} KB per 1,000 "
              f"customers in the second half")
        for line in r.get("growth", []):
            print(f"    grew from a fifth of the run to its end: {line}")
    print("  load average (1, 5, 15 min) at the end: "
          + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    small, large = results[0], results[-1]
    print(f"  peak ratio {large['peak_mb'] / small['peak_mb']:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rate-scale", type=float, default=0.001)
    parser.add_argument("--bulk", action="store_true")
    parser.add_argument("--trace", action="store_true",
                        help="tracemalloc: what grew between a fifth of the run and its end")
    parser.add_argument("--one", type=int)
    args = parser.parse_args()
    clear_sandbox_env()
    if args.one:
        print(json.dumps(asyncio.run(one(args.one, args.rate_scale, args.bulk, args.trace))))
    else:
        main([int(s) for s in args.sizes.split(",")], args.rate_scale, args.bulk, args.trace)
