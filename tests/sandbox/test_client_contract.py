"""The real IpaasClient against the emulator, in process and over loopback, on the demo data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.clients.ipaas import IpaasClient
from core.loopback import LoopbackServer
from core.model import Customer
from core.sandbox import DEMO_SEED, Sandbox, serve_sandbox
from core.sandbox.ipaas import ErrorShape, IpaasOptions

from .test_demo import CUSTOMERS, LINKS


def client(sandbox: Sandbox, base_url: str | None = None) -> IpaasClient:
    creds = sandbox.credentials
    return IpaasClient(
        creds.ipaas_token, creds.ipaas_system_id, base_url=base_url or creds.base_url,
        transport=None if base_url else sandbox.transport,
    )


@pytest.mark.parametrize(
    "options",
    [IpaasOptions(page_size=7), IpaasOptions(page_base=0, page_size=10, id_as_number=False,
                                             error_shape=ErrorShape.ENVELOPE,
                                             quote_external_ids=False)],
)
async def test_client_reads_and_links_on_demo_data(tmp_path: Path, options: IpaasOptions) -> None:
    sandbox = Sandbox(tmp_path, ipaas_options=options)
    async with client(sandbox) as ipaas:
        ann = await ipaas.get_customer("55260")
        assert ann == Customer.from_api(sandbox.ipaas.customers["55260"])
        assert await ipaas.get_customer("999999") is None
        every = [c.id async for c in ipaas.iter_customers()]
        assert sorted(every) == sorted(CUSTOMERS)
        found = await ipaas.search_customers(email="ANN.DUPONT@example.com")
        assert [c.id for c in found] == ["55260"]
        assert await ipaas.lookup_link("55260") == LINKS["55260"]
        assert await ipaas.lookup_link("55267") is None  # DELETED: link
        assert await ipaas.lookup_link("55300") is None  # never linked
        await ipaas.store_link("55300", "01JSTOREDBYCLIENT000000000")
        assert await ipaas.lookup_link("55300") == "01JSTOREDBYCLIENT000000000"
    await sandbox.aclose()


async def test_client_over_a_real_socket(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, seed=DEMO_SEED)
    ready: asyncio.Future[LoopbackServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_sandbox(sandbox, ready=ready.set_result))
    server = await ready
    try:
        async with client(sandbox, server.url) as ipaas:
            customer = await ipaas.get_customer("55302")
            assert customer is not None and customer.first_name == "山田"
            await ipaas.store_link("55302", "01JOVERTHESOCKET0000000000")
            assert await ipaas.lookup_link("55302") == "01JOVERTHESOCKET0000000000"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    reopened = Sandbox(tmp_path)
    assert reopened.ipaas.link_of("55302") == "01JOVERTHESOCKET0000000000"
