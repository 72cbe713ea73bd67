"""iPaaS.com's customers API: Customers, search, paging and the external-id link to Klaviyo."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from core.clients.checks import CheckResult, CheckStatus
from core.clients.errors import SYSTEM_ID_CODES, ApiError, SystemIdError, malformed
from core.clients.http import ApiSession, RetryListener, RetryPolicy, SessionClient
from core.clients.limiter import Clock, Limiter, Sleep
from core.model import Customer

__all__ = ["IpaasClient", "StoredLink", "SystemIdError", "parse_link", "parse_pagination",
           "read_link"]

SERVICE = "ipaas"
TABLE = "customer"
DELETED_PREFIX = "DELETED:"
_MAX_PAGES = 100_000


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A Customer's external id for Klaviyo as iPaaS.com stores it."""

    profile_id: str | None = None  # the live link; None when unlinked or marked deleted
    deleted: str | None = None  # the profile id a `DELETED:` link still names


def read_link(body: str) -> StoredLink:
    """A LookupExternal body (raw or JSON-quoted) as a live link, a deleted one, or none."""
    text = body.strip()
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = text.strip('"')
        text = decoded.strip() if isinstance(decoded, str) else ""
    if not text or text.lower() == "null":
        return StoredLink()
    if text.upper().startswith(DELETED_PREFIX):
        return StoredLink(deleted=text[len(DELETED_PREFIX):].strip() or None)
    return StoredLink(profile_id=text)


def parse_link(body: str) -> str | None:
    """The external id from a LookupExternal body: raw or JSON-quoted; DELETED: means none."""
    return read_link(body).profile_id


def garbled_link(response: httpx.Response) -> str | None:
    """What is wrong with a LookupExternal body cut short (an unclosed quote), if anything."""
    text = response.text.strip()
    if text.startswith('"') and (len(text) < 2 or not text.endswith('"')):
        return "the link body was cut off (unclosed quote)"
    return None


def parse_pagination(header: str | None) -> tuple[int | None, int | None]:
    """(current page, total pages) from X-Pagination, whatever the key casing."""
    if not header:
        return None, None
    try:
        raw = json.loads(header)
    except ValueError:
        return None, None
    if not isinstance(raw, Mapping):
        return None, None
    keys = {str(k).replace("_", "").lower(): v for k, v in raw.items()}

    def number(*names: str) -> int | None:
        for name in names:
            value = keys.get(name)
            if isinstance(value, int | float | str) and not isinstance(value, bool):
                try:
                    return int(value)
                except (ValueError, OverflowError):
                    continue
        return None

    return number("currentpage", "pagenumber", "page"), number("totalpages", "pagecount")


def _system_id_value(system_id: str) -> int | str:
    return int(system_id) if system_id.strip().isdigit() else system_id


class IpaasClient(SessionClient):
    """Async iPaaS.com client: Bearer token, tolerant of the API's unpublished details."""

    def __init__(
        self,
        token: str,
        system_id: str,
        *,
        base_url: str = "https://api.ipaas.com",
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        on_retry: RetryListener | None = None,
    ) -> None:
        if not token or not token.isascii() or not token.isprintable() or " " in token:
            raise ValueError(
                "the iPaaS.com token must be a non-empty access token without spaces "
                "(set IPAAS_API_TOKEN)"
            )
        if not str(system_id).strip():
            raise ValueError("the iPaaS.com system id is missing (set IPAAS_SYSTEM_ID)")
        self.system_id = str(system_id).strip()
        self._session = ApiSession(
            SERVICE,
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            secrets=(token,),
            # iPaaS.com publishes no rate limits; 429s are still retried with Retry-After.
            limiter=Limiter({}, clock=clock, sleep=sleep),
            transport=transport,
            retry=retry,
            timeout=timeout,
            clock=clock,
            sleep=sleep,
            rand=rand,
            on_retry=on_retry,
        )

    def __repr__(self) -> str:
        return f"IpaasClient(system_id={self.system_id!r})"

    async def get_customer(self, customer_id: str) -> Customer | None:
        """The Customer, or None when iPaaS.com has no such id (404)."""
        response = await self._session.request(
            "GET", f"/customers/v2/Customer/{customer_id}", ok={404}, parse=True
        )
        if response.status_code == 404:
            return None
        return Customer.from_api(self._session.json(response))

    async def search_customers(
        self, *, email: str | None = None, name: str | None = None
    ) -> list[Customer]:
        """Customers whose email equals this one, or whose first/last name equals the name."""
        queries: list[dict[str, str]] = []
        if email and email.strip():
            queries.append({"EmailAddress": email.strip()})
        if name and name.strip():
            words = name.split()
            if len(words) >= 2:
                queries.append({"FirstName": words[0], "LastName": " ".join(words[1:])})
            queries.append({"LastName": name.strip()})
            queries.append({"FirstName": name.strip()})
        found: dict[str, Customer] = {}
        for query in queries:
            async for customer in self._paged({"action": "equals", **query}):
                found.setdefault(customer.id, customer)
        return list(found.values())

    def iter_customers(self) -> AsyncIterator[Customer]:
        """Every Customer, fetched page by page as the caller consumes them."""
        return self._paged({})

    async def _paged(self, params: Mapping[str, str]) -> AsyncIterator[Customer]:
        # Whether pages count from 0 or 1 is unpublished: ask for 0 and follow the page number
        # the server echoes in X-Pagination; the previous page's ids guard against a clamped
        # page (a repeat of the last one). Only one page is kept, so memory stays flat.
        previous: set[str] = set()
        yielded_any = False
        page = 0
        repeats = 0
        for _ in range(_MAX_PAGES):
            try:
                response = await self._session.request(
                    "GET", "/customers/v2/Customers", params={**params, "pageNumber": str(page)},
                    parse=True,
                )
            except ApiError as error:
                if page == 0 and error.status == 400:
                    page = 1  # a server counting from 1 may refuse page 0
                    continue
                raise
            body = self._session.json(response)
            records = _records(body)
            if records is None:
                raise malformed(SERVICE, response, "customer list is not a JSON array")
            current, total = parse_pagination(response.headers.get("X-Pagination"))
            fresh = 0
            this_page: set[str] = set()
            for raw in records:
                customer = Customer.from_api(raw)
                if customer.id in previous or customer.id in this_page:
                    continue
                this_page.add(customer.id)
                fresh += 1
                yielded_any = True
                yield customer
            if fresh:
                previous = this_page
            if not records and page == 0 and not yielded_any and total != 0:
                page = 1  # page 0 of a server counting from 1 may simply be empty
                continue
            if not records:
                return
            # A server counting from 1 may answer page 0 with page 1, so one page of nothing
            # new is tolerated; two in a row means the server is repeating its last page.
            repeats = repeats + 1 if fresh == 0 else 0
            if repeats >= 2:
                return
            if current is not None and total is not None and current >= total:
                return
            page = (current if current is not None else page) + 1

    async def lookup_link(self, customer_id: str) -> str | None:
        """The Klaviyo profile id stored for the Customer; None when unlinked or deleted."""
        return (await self.lookup_stored_link(customer_id)).profile_id

    async def lookup_stored_link(self, customer_id: str) -> StoredLink:
        """The Customer's stored link, a `DELETED:` one included (it names the old profile).

        SystemIdError when iPaaS.com does not know the configured system id: every Customer
        would look unlinked, so that answer must never be read as "not linked".
        """
        path = f"/customers/v2/External/LookupExternal/{customer_id}/{self.system_id}/{TABLE}"
        response = await self._system_request("GET", path, ok={404}, check=garbled_link)
        if response.status_code == 404:
            return StoredLink()
        return read_link(response.text)

    async def verify(self) -> list[CheckResult]:
        """Check the base URL, the token and the system id with two cheap reads, one result each.

        Reads one page of Customers (reachable, token accepted), then looks up the link of
        the first one (or of id 0) for the configured system: 200 or 404 means iPaaS.com
        knows the system id, VALD-1017/1023 that it does not.
        """
        where = self.base_url
        url_fix = "check IPAAS_BASE_URL (or [ipaas] base_url) and the network"
        token_fix = ("set IPAAS_API_TOKEN (or [ipaas] api_token) to a valid company token "
                     "for this subscription")
        skipped = "not checked: iPaaS.com did not answer"
        try:
            response = await self._session.request(
                "GET", "/customers/v2/Customers", params={"pageNumber": "1"}, parse=True
            )
            records = _records(self._session.json(response)) or []
        except ApiError as error:
            if error.status in (401, 403):
                return [
                    CheckResult("iPaaS.com reachable", CheckStatus.PASS, f"{where} answered"),
                    CheckResult("iPaaS.com token", CheckStatus.FAIL, str(error), token_fix),
                    CheckResult("iPaaS.com system id", CheckStatus.WARN,
                                "not checked: the token was refused"),
                ]
            return [
                CheckResult("iPaaS.com reachable", CheckStatus.FAIL, str(error), url_fix),
                CheckResult("iPaaS.com token", CheckStatus.WARN, skipped),
                CheckResult("iPaaS.com system id", CheckStatus.WARN, skipped),
            ]
        results = [
            CheckResult("iPaaS.com reachable", CheckStatus.PASS, f"{where} answered"),
            CheckResult("iPaaS.com token", CheckStatus.PASS, "accepted"),
        ]
        first = records[0] if records and isinstance(records[0], Mapping) else {}
        probe = str(first.get("id", "0"))
        try:
            await self.lookup_link(probe)
        except SystemIdError as error:
            fix = (f"set IPAAS_SYSTEM_ID (or [ipaas] system_id) to the system id of this "
                   f"Klaviyo subscription in iPaaS.com; {self.system_id!r} is not one")
            results.append(CheckResult("iPaaS.com system id", CheckStatus.FAIL, str(error), fix))
        except ApiError as error:
            results.append(CheckResult(
                "iPaaS.com system id", CheckStatus.WARN, f"could not confirm: {error}",
                "run check again; if it persists, look the system id up in iPaaS.com"))
        else:
            results.append(CheckResult("iPaaS.com system id", CheckStatus.PASS,
                                       f"system id {self.system_id} is known to iPaaS.com"))
        return results

    async def store_link(self, customer_id: str, profile_id: str) -> None:
        """Record the Klaviyo profile id as the Customer's external id for this system."""
        body = {
            "table_name": TABLE,
            "system_id": _system_id_value(self.system_id),
            "external_id": profile_id,
            "internal_id": str(customer_id),
        }
        await self._system_request(
            "POST", "/customers/v2/External/UpdateExternalId",
            body=json.dumps(body).encode("utf-8"),
        )

    async def _system_request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        ok: set[int] | None = None,
        check: Callable[[httpx.Response], str | None] | None = None,
    ) -> httpx.Response:
        """A call naming the system id: iPaaS.com refusing the id becomes a SystemIdError."""
        try:
            return await self._session.request(method, path, body=body, ok=ok or (), check=check)
        except ApiError as error:
            if error.code in SYSTEM_ID_CODES:
                raise SystemIdError(error, self.system_id) from None
            raise


def _records(body: Any) -> list[Any] | None:
    """The array of a list response (also tolerating a {"data"|"items": [...]} envelope)."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for key in ("data", "items", "Items", "results"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return None
