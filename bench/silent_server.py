"""Issue 17, item 4: how long a call to a server that accepts but never answers takes to fail.

Run: .venv/bin/python bench/silent_server.py [--read 30] [--attempts 5] [--totals 1,3,10]
A loopback socket accepts connections and never replies (nothing reads or writes them). For
each total timeout the iPaaS.com client fetches one Customer with the given read timeout and
attempts; printed: the configured total, the wall time to the error, the attempts made, the
retry notices heard and the error message. Target: wall time <= the total timeout (plus the
event loop's scheduling slack), whatever the read timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

from core.clients.http import ApiError, RetryNotice, RetryPolicy
from core.clients.ipaas import IpaasClient


async def one_call(port: int, read: float, attempts: int, total: float) -> None:
    heard: list[RetryNotice] = []
    policy = RetryPolicy(max_attempts=attempts, read_timeout=read, total_timeout=total)
    client = IpaasClient("bench-token-0000", "4242", base_url=f"http://127.0.0.1:{port}",
                         retry=policy, on_retry=heard.append)
    started = time.perf_counter()
    async with client:
        try:
            await client.get_customer("55260")
        except ApiError as error:
            elapsed = time.perf_counter() - started
            print(f"total {total:>6.1f} s  failed after {elapsed:6.2f} s  "
                  f"attempts {error.attempts}/{attempts}  notices {len(heard)}")
            for notice in heard:
                print(f"    notice: {notice}")
            print(f"    error:  {error}")
            return
    print(f"total {total:>6.1f} s  unexpectedly answered")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--read", type=float, default=30.0, help="read timeout, seconds")
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--totals", default="1,3,10", help="total timeouts to try, seconds")
    args = parser.parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        print(f"silent server on 127.0.0.1:{port}; read timeout {args.read:g} s, "
              f"{args.attempts} attempts")
        for total in (float(t) for t in args.totals.split(",")):
            await one_call(port, args.read, args.attempts, total)


if __name__ == "__main__":
    asyncio.run(main())
