"""Shared pieces for the Klaviyo emulator contract tests: a fake clock and a ready client."""

from __future__ import annotations

from typing import Any

import httpx

from core.sandbox.klaviyo import KlaviyoEmulator

API_KEY = "pk_sandbox_test_key"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {API_KEY}",
    "revision": "2026-07-15",
    "Content-Type": "application/vnd.api+json",
    "Accept": "application/vnd.api+json",
}
BASE = "https://a.klaviyo.com"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client(emulator: KlaviyoEmulator, **headers: str) -> httpx.AsyncClient:
    """An httpx client whose transport is the emulator."""
    merged = {**HEADERS, **headers}
    return httpx.AsyncClient(
        transport=httpx.MockTransport(emulator.handle), base_url=BASE, headers=merged
    )


def profile_doc(**attributes: Any) -> dict[str, Any]:
    """A create-profile document."""
    return {"data": {"type": "profile", "attributes": attributes}}


def subscribe_doc(
    profiles: list[dict[str, Any]], list_id: str | None = None, **attributes: Any
) -> dict[str, Any]:
    """A bulk subscribe document."""
    data: dict[str, Any] = {
        "type": "profile-subscription-bulk-create-job",
        "attributes": {"profiles": {"data": profiles}, **attributes},
    }
    if list_id:
        data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return {"data": data}


def unsubscribe_doc(profiles: list[dict[str, Any]], list_id: str | None = None) -> dict[str, Any]:
    """A bulk unsubscribe document."""
    data: dict[str, Any] = {
        "type": "profile-subscription-bulk-delete-job",
        "attributes": {"profiles": {"data": profiles}},
    }
    if list_id:
        data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return {"data": data}


def email_subject(email: str, consent: str = "SUBSCRIBED", **extra: Any) -> dict[str, Any]:
    """One profile entry for a consent job, email marketing only."""
    return {
        "type": "profile",
        "attributes": {
            "email": email,
            "subscriptions": {"email": {"marketing": {"consent": consent}}},
            **extra,
        },
    }


def the_error(response: httpx.Response) -> dict[str, Any]:
    """The single error object of an error response."""
    body = response.json()
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    return error
