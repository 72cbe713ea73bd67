"""The sandbox in its own process, served on loopback, so a bench measures only the engine.

The in-process emulators share the engine's CPU and memory (they answer every request and hold
every customer and profile); a real run talks to Klaviyo and iPaaS.com over the network. Here the
engine reaches the sandbox over loopback HTTP, as `klaviyo-console sandbox serve` would serve it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.clients.klaviyo import KlaviyoClient
from core.config import Config
from core.engine import Engine

# Klaviyo takes requests up to 5 MB (a full import job); serve_sandbox's loopback server caps
# bodies at 1 MB, so the bench serves the sandbox with Klaviyo's cap.
MAX_BODY = 5 * 1024 * 1024 + 64 * 1024


def _seeded(seed: Path, scale: float) -> Any:
    """The sandbox over this seed, with Klaviyo's limits scaled in time."""
    from core.sandbox import Knobs, Sandbox

    return Sandbox(None, seed=seed, knobs=Knobs(rate_scale=scale))


def _serve(seed: str, scale: float) -> None:
    from core.loopback import LoopbackServer

    if seed.startswith("generate:"):
        # The seed is built here, so its size never shows in the engine process.
        from common import seed_document

        _, count, linked = seed.split(":")
        path = Path(tempfile.mkdtemp(prefix="bench-seed-")) / "seed.json"
        path.write_text(json.dumps(seed_document(int(count), linked=float(linked),
                                                 existing=float(linked))), encoding="utf-8")
        seed = str(path)
    sandbox = _seeded(Path(seed), scale)

    async def run() -> None:
        server = LoopbackServer(sandbox.transport.handle_async_request, "127.0.0.1", 0,
                                max_body=MAX_BODY)
        await server.start()
        creds = sandbox.credentials.at(server.url)
        print(json.dumps({"base_url": creds.base_url, "klaviyo": creds.klaviyo_api_key,
                          "ipaas": creds.ipaas_token, "system": creds.ipaas_system_id}),
              flush=True)
        task = asyncio.create_task(server.serve_forever())
        # Stop when the bench closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        task.cancel()
        await server.close()

    asyncio.run(run())


@asynccontextmanager
async def served_engine(document: dict[str, Any] | str, scale: float,
                        retry_attempts: int = 5) -> AsyncIterator[tuple[Engine, dict[str, Any]]]:
    """An engine in this process over a sandbox seeded with `document` in another process
    (or "generate:N:LINKED": N generated customers, built by the sandbox's process)."""
    with tempfile.TemporaryDirectory(prefix="bench-served-") as folder:
        if isinstance(document, str):
            seed: Path | str = document
        else:
            seed = Path(folder) / "seed.json"
            seed.write_text(json.dumps(document), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(seed), str(scale)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert server.stdout is not None
            line = await asyncio.get_running_loop().run_in_executor(None, server.stdout.readline)
            creds = json.loads(line)
            config = Config(state_dir=Path(folder) / "state", klaviyo_api_key=creds["klaviyo"],
                            klaviyo_base_url=creds["base_url"], ipaas_token=creds["ipaas"],
                            ipaas_system_id=creds["system"], ipaas_base_url=creds["base_url"],
                            retry_attempts=retry_attempts)
            engine = await Engine.open(config)
            # A real account's limits scaled like the served emulator's windows.
            ctx = engine._ctx  # bench only: Config has no rate scale
            await ctx.klaviyo.aclose()
            ctx.klaviyo = KlaviyoClient(creds["klaviyo"], base_url=creds["base_url"],
                                        rate_scale=scale)
            try:
                yield engine, {"pid": server.pid}
            finally:
                await engine.close()
        finally:
            if server.stdin is not None:
                server.stdin.close()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the served sandbox process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--serve":
    _serve(sys.argv[2], float(sys.argv[3]))
