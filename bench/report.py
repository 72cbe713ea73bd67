"""Figure 8: the impact report over many customers at Klaviyo's real read limits.

Run: .venv/bin/python bench/report.py [--customers 10000] [--rate-scale 1.0] [--linked 0.5]
The sandbox enforces Klaviyo's per-endpoint limits (rate scale 1: the real windows). Prints the
wall time (target: 10,000 customers under 60 s), CPU, the Klaviyo requests by kind and how many
were answered 429, and checks that nothing was written (every request a GET). A progress bar on
stderr shows the run as the CLI's does.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time

from common import clear_sandbox_env, engine_on, seed_document
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.engine import BatchProgress
from core.sandbox import Knobs


async def main(count: int, scale: float, linked: float, existing: float) -> None:
    document = seed_document(count, linked=linked, existing=existing)
    async with engine_on(document, Knobs(rate_scale=scale)) as (engine, _sandbox, tap):
        bar = Progress(TextColumn("report"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[rate]:.0f}/s"), TimeElapsedColumn())
        task = bar.add_task("report", total=count, rate=0.0)

        def moved(progress: BatchProgress) -> None:
            bar.update(task, completed=progress.processed, rate=progress.rate)

        cpu0, wall0 = time.process_time(), time.monotonic()
        with bar:
            found = await engine.report(None, on_progress=moved)  # report --all
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
    klaviyo = [row for row in tap.log if row[2].startswith("/api/")]
    throttled = sum(1 for row in klaviyo if row[3] == 429)
    writes = [row for row in tap.log if row[1] != "GET"]
    by_call = collections.Counter(f"{m} {p.split('/')[2] if p.count('/') > 1 else p}"
                                  for _, m, p, _ in klaviyo)
    body = found.report.to_json()
    print(f"report: {count} customers ({existing:.0%} with a profile, {linked:.0%} linked), "
          f"rate scale {scale}")
    print(f"  wall {wall:.1f} s (target < 60 s), CPU {cpu:.1f} s, "
          f"{count / wall:.0f} customers/s")
    print(f"  routes {body['routes']}, confirm needed {body['confirm_needed']}")
    print(f"  Klaviyo requests {len(klaviyo)}, answered 429: {throttled}; "
          f"requests that were not GET: {len(writes)} (must be 0)")
    print("  requests by kind: " + ", ".join(f"{k} {v}" for k, v in by_call.most_common()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--rate-scale", type=float, default=1.0)
    parser.add_argument("--linked", type=float, default=0.5)
    parser.add_argument("--existing", type=float, default=0.75)
    args = parser.parse_args()
    clear_sandbox_env()
    asyncio.run(main(args.customers, args.rate_scale, args.linked, args.existing))
