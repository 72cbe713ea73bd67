"""Shared fixtures: an iPaaS.com emulator client and a tiny stand-in for the Klaviyo emulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.sandbox.ipaas import IpaasEmulator, IpaasOptions, SsoUser

TOKEN = "test-token-not-a-secret"
SYSTEM = "77"
USER = SsoUser("op@example.com", "pw-123", "3b9e2f4a-6c1d-4e8b-a7f5-0d2c9b8e1a34")


def customer(cid: int, email: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "first_name": f"First{cid}", "last_name": f"Last{cid}",
            "email_address": email, "customer_number": None, "addresses": [],
            "custom_fields": [], **extra}


class FakeKlaviyo:
    """Records what reaches /api and keeps a trivial state, like the KlaviyoEmulator contract."""

    def __init__(self) -> None:
        self.changed = False
        self.profiles: dict[str, dict[str, Any]] = {}
        self.lists: list[dict[str, Any]] = []
        self.seen: list[str] = []
        self.created = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        if request.method == "POST":
            pid = f"P{len(self.profiles) + 1}"
            self.profiles[pid] = json.loads(request.content)
            self.created += 1
            self.changed = True
            return httpx.Response(201, json={"data": {"type": "profile", "id": pid}})
        return httpx.Response(200, json={"data": list(self.profiles)})

    def seed(self, profiles: list[dict[str, Any]], lists: list[dict[str, Any]],
             account: dict[str, Any] | None = None) -> dict[str, str]:
        out = {}
        for index, item in enumerate(profiles):
            pid = item.get("id") or f"S{index}"
            self.profiles[pid] = item["attributes"]
            out[str(index)] = pid
        self.lists = list(lists)
        self.changed = True
        return out

    def dump(self) -> dict[str, Any]:
        return {"profiles": self.profiles, "lists": self.lists}

    def load(self, state: dict[str, Any]) -> None:
        self.profiles = dict(state["profiles"])
        self.lists = list(state["lists"])


@pytest.fixture
def emulator() -> IpaasEmulator:
    emu = IpaasEmulator(token=TOKEN, system_id=SYSTEM, user=USER)
    emu.seed(
        [customer(55260, "ann@example.com", customer_number="312 555 0100"),
         customer(55261, "bob@example.com"),
         customer(55262, "Carol@Example.com", first_name="Carol"),
         customer(55263, None, first_name="Carol")],
        {"55260": "01JPROFILEANN0000000000000", "55262": "DELETED:01JGONE"},
    )
    emu.changed = False
    return emu


def client_for(emu: IpaasEmulator, token: str | None = TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.MockTransport(emu.handle), base_url="https://api.ipaas.com",
        headers=headers,
    )


@pytest.fixture
async def api(emulator: IpaasEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(emulator) as client:
        yield client


def options(**kw: Any) -> IpaasOptions:
    return IpaasOptions(**kw)
