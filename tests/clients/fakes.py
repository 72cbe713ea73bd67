"""Test doubles for the clients: a virtual clock and real-API-shaped fake handlers."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

KEY = "pk_test_0123456789abcdefSECRET"
TOKEN = "ipaas-token-TOPSECRET-42"


def literal(text: str) -> str:
    """The value of a quoted filter literal (either quote, backslash escapes)."""
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@dataclass
class VirtualClock:
    """Time that moves only when the code under test sleeps; parallel sleepers overlap."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        target = self.now + max(0.0, seconds)
        self.slept.append(seconds)
        await asyncio.sleep(0)
        self.now = max(self.now, target)


def jsonapi(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(
        status, content=content,
        headers={"Content-Type": "application/vnd.api+json", **(headers or {})},
    )


def klaviyo_error(status: int, code: str, detail: str, pointer: str | None = None,
                  meta: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    error: dict[str, Any] = {
        "id": "8c8f4aea-1111-2222-3333-444455556666", "status": status, "code": code,
        "title": "Invalid input." if status == 400 else "Error.", "detail": detail,
        "source": {"pointer": pointer} if pointer else {}, "links": {}, "meta": meta or {},
    }
    return jsonapi(status, {"errors": [error]}, headers)


def profile_resource(pid: str, attributes: dict[str, Any], *, lists: list[str] | None = None,
                     email_consent: str = "NEVER_SUBSCRIBED") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "type": "profile", "id": pid,
        "attributes": {
            **attributes,
            "subscriptions": {
                "email": {"marketing": {"consent": email_consent,
                                        "can_receive_email_marketing": True}},
                "sms": {"marketing": {"consent": "NEVER_SUBSCRIBED",
                                      "can_receive_sms_marketing": False}},
            },
        },
        "relationships": {"lists": {"links": {"self": "x", "related": "y"}}},
        "links": {"self": f"https://a.klaviyo.com/api/profiles/{pid}"},
    }
    if lists is not None:
        resource["relationships"]["lists"]["data"] = [{"type": "list", "id": i} for i in lists]
    return resource


class Recorder:
    """Wraps a handler, keeping every request it saw (with its body)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        response = await self.handler(request)
        self.statuses.append(response.status_code)
        return response

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.content]

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def sequence(*responses: httpx.Response | Exception) -> Handler:
    """A handler answering with these responses (or raising these errors) in turn."""
    queue = list(responses)

    async def handle(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        # A fresh copy each time: a response object belongs to one request.
        return httpx.Response(item.status_code, headers=item.headers, content=item.content)

    return handle


class FakeKlaviyo:
    """A minimal in-memory Klaviyo answering with the real API's status codes and shapes."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.lists = {"Y6nRLr": ("Preview List", "single_opt_in"),
                      "XUepkK": ("Sms Subscribers", "double_opt_in")}
        self.members: dict[str, set[str]] = {lid: set() for lid in self.lists}
        self.jobs: dict[str, int] = {}
        self._next = 0

    def _id(self) -> str:
        self._next += 1
        return f"01J{self._next:023d}"

    def _resource(self, pid: str) -> dict[str, Any]:
        lists = sorted(lid for lid, ids in self.members.items() if pid in ids)
        return profile_resource(pid, self.profiles[pid], lists=lists)

    def _list(self, lid: str) -> dict[str, Any]:
        name, opt_in = self.lists[lid]
        return {"type": "list", "id": lid,
                "attributes": {"name": name, "opt_in_process": opt_in}}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        method, parts = request.method, request.url.path.strip("/").split("/")
        body = json.loads(request.content) if request.content else None
        query = dict(request.url.params)
        if parts[:2] != ["api", "profiles"] and parts[:2] != ["api", "lists"]:
            return self._jobs(method, parts, body, query)
        if parts == ["api", "profiles"] and method == "GET":
            field_name, _, value = query["filter"][len("equals("):-1].partition(",")
            wanted = literal(value)
            found = [self._resource(p) for p, a in self.profiles.items()
                     if a.get(field_name) == wanted]
            return jsonapi(200, {"data": found, "links": {"self": str(request.url)}})
        if parts == ["api", "profiles"] and method == "POST":
            attributes = body["data"]["attributes"]
            for pid, existing in self.profiles.items():
                if any(attributes.get(k) and existing.get(k) == attributes.get(k)
                       for k in ("email", "phone_number")):
                    return klaviyo_error(409, "duplicate_profile",
                                         "A profile already exists with one of these identifiers.",
                                         "/data/attributes", {"duplicate_profile_id": pid})
            pid = self._id()
            self.profiles[pid] = dict(attributes)
            return jsonapi(201, {"data": self._resource(pid)})
        if parts[:2] == ["api", "profiles"] and len(parts) == 3:
            pid = parts[2]
            if pid not in self.profiles:
                return klaviyo_error(404, "not_found", f"A profile with id {pid} does not exist.")
            if method == "PATCH":
                for key, value in body["data"]["attributes"].items():
                    if value is None:
                        self.profiles[pid].pop(key, None)
                    else:
                        self.profiles[pid][key] = value
            return jsonapi(200, {"data": self._resource(pid)})
        if parts[:2] == ["api", "profiles"] and parts[3:] == ["lists"]:
            data = [self._list(lid) for lid, ids in self.members.items() if parts[2] in ids]
            return jsonapi(200, {"data": data, "links": {"self": str(request.url)}})
        if parts == ["api", "lists"]:
            name = literal(query["filter"][len("equals(name,"):-1])
            data = [self._list(lid) for lid, (n, _) in self.lists.items() if n == name]
            return jsonapi(200, {"data": data, "links": {"self": str(request.url)}})
        if parts[:2] == ["api", "lists"] and parts[3:] == ["relationships", "profiles"]:
            ids = {item["id"] for item in body["data"]}
            if method == "POST":
                self.members[parts[2]] |= ids
            else:
                self.members[parts[2]] -= ids
            return httpx.Response(204)
        return klaviyo_error(404, "not_found", "no route")

    def _jobs(self, method: str, parts: list[str], body: Any,
              query: dict[str, str]) -> httpx.Response:
        if parts[1] in ("profile-subscription-bulk-create-jobs",
                        "profile-subscription-bulk-delete-jobs"):
            return httpx.Response(202)
        if parts[1] == "profile-bulk-import-jobs" and method == "POST":
            job = self._id()
            self.jobs[job] = len(body["data"]["attributes"]["profiles"]["data"])
            return jsonapi(202, {"data": self._job(job)})
        if parts[1] == "profile-bulk-import-jobs" and len(parts) == 3:
            return jsonapi(200, {"data": self._job(parts[2])})
        if parts[1] == "profile-bulk-import-jobs" and parts[3] == "import-errors":
            page = int(query.get("page[cursor]", "0"))
            data = [{"type": "import-error", "id": f"e{page}-{i}",
                     "attributes": {"code": "invalid", "title": "Invalid input.",
                                    "detail": "Invalid email address",
                                    "source": {"pointer": "/data"}, "original_payload": {}}}
                    for i in range(2)]
            links: dict[str, Any] = {"self": "x", "next": None, "prev": None}
            if page < 2:
                links["next"] = (f"https://a.klaviyo.com/api/profile-bulk-import-jobs/{parts[2]}"
                                 f"/import-errors?page%5Bcursor%5D={page + 1}")
            return jsonapi(200, {"data": data, "links": links})
        return klaviyo_error(404, "not_found", "no route")

    def _job(self, job: str) -> dict[str, Any]:
        return {"type": "profile-bulk-import-job", "id": job,
                "attributes": {"status": "complete", "created_at": "2026-07-20T10:00:00+00:00",
                               "total_count": self.jobs[job], "completed_count": self.jobs[job] - 1,
                               "failed_count": 1, "completed_at": "2026-07-20T10:01:00+00:00"}}
