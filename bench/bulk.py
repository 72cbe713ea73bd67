"""Figure 3: `sync --all --bulk` through profile-bulk-import jobs, against Klaviyo's limits.

Run: .venv/bin/python bench/bulk.py [--customers 20000] [--rate-scale 0.05] [--bad 0.01]
     [--linked 0.5] [--cli]
The sandbox runs in its own process (bench/served.py), so the figures are the engine's. With
--cli the run is `klaviyo-console sync --all --bulk --json` in a process of its own against the
served sandbox at Klaviyo's real limits, and the figures are that process's CPU (start-up
included) and wall. A share
(--linked) of the customers is linked to existing profiles, the rest are new; a share (--bad)
has an email Klaviyo refuses, which only the import job finds. Prints:
- customers per minute of Klaviyo time the API limits allow: the requests the engine sent per
  bucket against each bucket's steady limit per minute (the busiest bucket decides; target at
  least 100,000), and the measured run in scaled Klaviyo time (wall / rate scale);
- the local cost: engine CPU per customer and wall throughput on this machine (the served
  sandbox's CPU shown apart);
- whether every refused customer has its own error record at the write stage, and no customer
  is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import served
from common import clear_sandbox_env, customer_ids, seed_document
from served import served_engine, server_cpu

from core.clients.klaviyo import BUCKETS
from core.model import ErrorKind, Stage


def budget_minutes(sent: dict[str, int]) -> tuple[float, str]:
    """Minutes of Klaviyo time these requests need at the steady limits (the busiest bucket)."""
    worst, name = 0.0, "-"
    for bucket, n in sent.items():
        need = n / BUCKETS[bucket].steady
        if need > worst:
            worst, name = need, bucket
    return worst, name


async def main(count: int, scale: float, bad: float, linked: float = 0.5) -> None:
    document = seed_document(count, linked=linked, existing=linked)
    step = max(1, round(1 / bad)) if bad > 0 else 0
    refused = set()
    for i, c in enumerate(document["customers"]):
        if step and i % step == step - 1 and i >= count // 2:
            c["email_address"] = f"not-an-email-{i}"
            c["customer_number"] = None
            refused.add(str(c["id"]))
    async with served_engine(document, scale) as (engine, server):
        del document
        served0 = server_cpu(server["pid"])
        cpu0, wall0 = time.process_time(), time.monotonic()
        progress = await engine.sync(None, bulk=True)
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        served = server_cpu(server["pid"]) - served0
        records = {cid: engine.errors.open_for_customer(cid) for cid in refused}
        missing = [cid for cid in customer_ids(count)
                   if not engine.history.for_customer(cid, limit=1)]
        limits = engine.rate_limits()
    attributed = sum(1 for r in records.values()
                     if r is not None and r.stage is Stage.WRITE
                     and r.kind in (ErrorKind.VALIDATION, ErrorKind.PHONE_REJECTED))
    sent = {name: s.sent for name, s in limits.items() if s.sent}
    throttled = sum(s.throttled for s in limits.values())
    minutes, busiest = budget_minutes(sent)
    print(f"bulk: {count:,} customers ({linked:.0%} linked, the rest new, {len(refused)} "
          f"refused emails), "
          f"rate scale {scale}, sandbox in its own process")
    print(f"  done {progress.done:,}, failed {progress.failed}, held {progress.held}; "
          f"lost {count - progress.processed}; without history {len(missing)}")
    print(f"  refused customers with their own write-stage error record: "
          f"{attributed}/{len(refused)}")
    print(f"  Klaviyo limits: {sum(sent.values())} requests; busiest bucket {busiest} needs "
          f"{minutes:.3f} min -> {count / max(minutes, 1e-9):,.0f} customers/min the limits "
          f"allow (target >= 100,000)")
    print("  per bucket (sent / steady per min): " + ", ".join(
        f"{b} {n}/{BUCKETS[b].steady}" for b, n in sorted(sent.items(), key=lambda x: -x[1])))
    print(f"  429s: {throttled}")
    print(f"  measured: wall {wall:.1f} s = {wall / scale / 60:.2f} min of scaled Klaviyo time "
          f"-> {count / (wall / scale / 60):,.0f} customers/min in scaled time")
    print(f"  local: engine CPU {cpu:.1f} s = {cpu / count * 1000:.2f} ms/customer, "
          f"{count / wall:,.0f} customers/s wall; served sandbox CPU {served:.1f} s")


def cli_run(count: int, linked: float) -> None:
    """`sync --all --bulk` by the CLI against a served sandbox: its process's CPU and wall."""
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SANDBOX_", "KLAVIYO_", "IPAAS_"))}
        # An operator's install keeps compiled modules; a CI-like shell that forbids writing
        # them would charge the CLI 0.3 s of compiling per run, which no operator pays.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        root = Path(__file__).resolve().parent.parent
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "core"),
                        str(root / "console")], check=True, env=env)
        server = subprocess.Popen(
            [sys.executable, str(Path(served.__file__)), "--serve",
             f"generate:{count}:{linked}", "1.0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert server.stdout is not None
            creds = json.loads(server.stdout.readline())
            env.update({
                "KLAVIYO_API_KEY": creds["klaviyo"], "KLAVIYO_BASE_URL": creds["base_url"],
                "IPAAS_API_TOKEN": creds["ipaas"], "IPAAS_SYSTEM_ID": creds["system"],
                "IPAAS_BASE_URL": creds["base_url"],
                "KLAVIYO_CONSOLE_STATE_DIR": str(Path(folder) / "state"),
                "XDG_CONFIG_HOME": str(Path(folder) / "config")})
            served0 = server_cpu(server.pid)
            wall0 = time.monotonic()
            cli = subprocess.Popen(
                [str(Path(sys.executable).parent / "klaviyo-console"), "sync", "--all",
                 "--bulk", "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env)
            out = cli.stdout.read() if cli.stdout is not None else b""
            _, status, usage = os.wait4(cli.pid, 0)
            wall = time.monotonic() - wall0
            served_cpu = server_cpu(server.pid) - served0
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=60)
    cpu = usage.ru_utime + usage.ru_stime
    summary = json.loads(out) if out else {}
    print(f"bulk by the CLI: {count:,} customers ({linked:.0%} linked, the rest new), "
          f"sandbox served in its own process at Klaviyo's real limits; exit "
          f"{os.waitstatus_to_exitcode(status)}")
    print(f"  done {summary.get('done')}, failed {summary.get('failed')}, "
          f"held {summary.get('held')}")
    print(f"  CLI process: CPU {cpu:.1f} s = {cpu / count * 1000:.2f} ms/customer (start-up "
          f"included), wall {wall:.1f} s = {count / wall * 60:,.0f} customers/min; served "
          f"sandbox CPU {served_cpu:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rate-scale", type=float, default=0.05)
    parser.add_argument("--bad", type=float, default=0.01)
    parser.add_argument("--linked", type=float, default=0.5)
    parser.add_argument("--cli", action="store_true",
                        help="run `klaviyo-console sync --all --bulk` in its own process")
    args = parser.parse_args()
    clear_sandbox_env()
    if args.cli:
        cli_run(args.customers, args.linked)
    else:
        asyncio.run(main(args.customers, args.rate_scale, args.bad, args.linked))
