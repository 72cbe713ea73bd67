"""How long one outbound hook of N notifications takes to answer, one at a time vs concurrent.

`.venv/bin/python bench/listen_hook.py [--count 300] [--latency-ms 20] [--rate-scale 1]`
posts one hook through `Engine.hook_handler` on an in-memory sandbox and prints the wall time
with the handler's bound at 1 (the old one-after-another loop) and at its default; the clients'
rate limiter paces both.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

import httpx
from common import clear_sandbox_env, customer_ids, engine_on, seed_document

from core.engine.listen import MAX_CONCURRENT_PUSHES, HookHandler
from core.sandbox import Knobs

SECRET = "bench-secret"


async def answer_time(count: int, knobs: Knobs, bound: int) -> tuple[float, Counter[str]]:
    async with engine_on(seed_document(count), knobs) as (engine, _sandbox, _tap):
        async def push_one(customer_id: str):  # type: ignore[no-untyped-def]
            return await engine.push(customer_id, trigger="listen")

        handler = HookHandler(push_one, SECRET, max_concurrent=bound)
        body = {"id": "bench", "attempt": 0, "notifications": [
            {"action": "updated", "id": cid, "scope": "customer/updated"}
            for cid in customer_ids(count)]}
        request = httpx.Request("POST", "http://listen.bench/v2/iPaaS", json=body,
                                headers={"Authorization": f"Bearer {SECRET}"})
        started = time.perf_counter()
        response = await handler(request)
        elapsed = time.perf_counter() - started
        return elapsed, Counter(r["status"] for r in response.json()["results"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--rate-scale", type=float, default=1.0)
    args = parser.parse_args()
    clear_sandbox_env()
    knobs = Knobs(latency_ms=args.latency_ms, rate_scale=args.rate_scale)
    for bound in (1, MAX_CONCURRENT_PUSHES):
        elapsed, statuses = asyncio.run(answer_time(args.count, knobs, bound))
        print(f"{args.count} notifications, {args.latency_ms:g} ms latency, bound {bound}: "
              f"answered in {elapsed:.2f} s ({dict(statuses)})")


if __name__ == "__main__":
    main()
