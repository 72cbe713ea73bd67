"""IpaasEmulator: the Customers, external ids and tokens of one iPaaS.com company, over httpx."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from core.model import Customer, CustomerDataError
from core.sandbox.ipaas import customers, external_ids, sso
from core.sandbox.ipaas.wire import (
    CUSTOMER_TABLE,
    JSON,
    ApiFailure,
    IpaasOptions,
    SsoUser,
    error_body,
    iso,
    json_response,
    stored,
    system_id,
)

Handler = Callable[["IpaasEmulator", httpx.Request, "re.Match[str]"], httpx.Response]


@dataclass(frozen=True)
class Route:
    """A method and path pattern, its handler, and the token it needs (None: no token)."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    token: Literal["company", "any"] | None


def _route(
    method: str, pattern: str, handler: Handler, token: Literal["company", "any"] | None
) -> Route:
    # ASP.NET routes match case-insensitively; ids in the path keep their case.
    return Route(method, re.compile(pattern, re.IGNORECASE), handler, token)


DATA_ROUTES = (
    _route("GET", r"/customers/v2/customer/([^/]+)", customers.get_customer, "company"),
    _route("PUT", r"/customers/v2/customer/([^/]+)", customers.put_customer, "company"),
    _route("POST", r"/customers/v2/customer", customers.post_customer, "company"),
    _route("GET", r"/customers/v2/customers", customers.list_customers, "company"),
    _route("GET", r"/customers/v2/external/lookupexternal/([^/]+)/([^/]+)/([^/]+)",
           external_ids.lookup_external, "company"),
    _route("GET", r"/customers/v2/external/lookupspaceport/([^/]+)/([^/]+)/(.+)",
           external_ids.lookup_spaceport, "company"),
    _route("POST", r"/customers/v2/external/updateexternalid", external_ids.update_link,
           "company"),
    _route("GET", r"/customers/v2/external/missing/([^/]+)/([^/]+)", external_ids.missing,
           "company"),
)
SSO_ROUTES = (
    _route("POST", r"/sso/v2/auth/login", sso.login, None),
    _route("POST", r"/sso/v2/auth/refresh", sso.refresh_token, None),
    _route("GET", r"/sso/v2/user/changecompany/([^/]+)", sso.change_company, "any"),
    _route("GET", r"/sso/v2/user/([^/]+)/companies", sso.companies, "any"),
)


class IpaasEmulator:
    """In-memory iPaaS.com: Customers, external-id links and tokens, served as httpx responses."""

    def __init__(
        self,
        *,
        token: str,
        system_id: str,
        options: IpaasOptions | None = None,
        user: SsoUser | None = None,
        clock: Callable[[], float] = time.time,
        other_systems: Iterable[str] = (),
    ) -> None:
        self.options = options or IpaasOptions()
        self.system_id = str(system_id)
        # The company's subscriptions: a system id outside them is refused with VALD-1023.
        self.systems: set[str] = {self.system_id, *map(str, other_systems)}
        self.user = user
        self._clock = clock
        self.tokens = sso.TokenDesk(token)
        self.customers: dict[str, JSON] = {}
        # (system_id, table, internal id) -> stored external id (may carry the DELETED: prefix)
        self.links: dict[tuple[str, str, str], str] = {}
        # Indexes kept beside the state so a 100,000-customer listing or seed stays linear.
        self._link_systems: set[str] = set()
        self._ordered: list[str] | None = None
        self.changed = False
        self.on_change: Callable[[str, str], None] | None = None

    def now(self) -> float:
        """The emulator's clock, in Unix seconds: token expiry and Customer stamps."""
        return self._clock()

    # ---- state -------------------------------------------------------------------------------

    def seed(self, customers: list[JSON], links: Mapping[str, str]) -> None:
        """Replace all state with these Customers (API JSON) and customer-id -> profile-id links."""
        self.customers = {}
        self.links = {}
        self._link_systems = set()
        self._ordered = None
        for index, raw in enumerate(customers):
            try:
                customer = Customer.from_api(raw)
            except CustomerDataError as exc:
                raise ValueError(f"seed customers[{index}]: {exc}") from None
            if customer.id in self.customers:
                raise ValueError(f"seed customers[{index}]: duplicate customer id {customer.id}")
            self.customers[customer.id] = stored(raw, customer.id)
        for customer_id, external_id in links.items():
            if str(customer_id) not in self.customers:
                raise ValueError(f"seed links: customer {customer_id} is not in the seed customers")
            self.set_link(self.system_id, CUSTOMER_TABLE, str(customer_id), str(external_id))
        self.changed = True

    def dump(self) -> JSON:
        """JSON-able state for persistence (tokens are not persisted)."""
        return {
            "version": 1,
            "customers": list(self.customers.values()),
            "links": [
                {"system_id": s, "table_name": t, "internal_id": i, "external_id": e}
                for (s, t, i), e in self.links.items()
            ],
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore what dump() produced; a malformed state raises ValueError."""
        try:
            customers = {str(raw["id"]): dict(raw) for raw in state["customers"]}
            links = {
                (str(item["system_id"]), str(item["table_name"]).lower(),
                 str(item["internal_id"])): str(item["external_id"])
                for item in state["links"]
            }
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"iPaaS.com sandbox state is malformed ({exc!r})") from None
        self.customers = customers
        self.links = links
        self._link_systems = {sid for sid, table, _ in links if table == CUSTOMER_TABLE}
        self.systems.update(sid for sid, _, _ in links)
        self._ordered = None
        self.changed = False

    def upsert_customer(self, raw: Mapping[str, Any]) -> str:
        """Create or replace a Customer (API JSON) and fire on_change; returns its id."""
        customer = Customer.from_api(raw)
        scope = "customer/updated" if customer.id in self.customers else "customer/created"
        now = iso(self._clock())
        record = stored(raw, customer.id)
        previous = self.customers.get(customer.id)
        record.setdefault(
            "created_datetime", previous.get("created_datetime", now) if previous else now
        )
        record["updated_datetime"] = now
        if previous is None:
            self._ordered = None
        self.customers[customer.id] = record
        self._sync_external_ids(customer.id)
        self.changed = True
        if self.on_change is not None:
            self.on_change(scope, customer.id)
        return customer.id

    def update_customer(self, customer_id: str, **fields: Any) -> None:
        """Change top-level fields of a stored Customer, as an operator would in iPaaS.com."""
        current = self.customers.get(str(customer_id))
        if current is None:
            raise KeyError(f"customer {customer_id} does not exist in the sandbox")
        self.upsert_customer({**current, **fields})

    def link_of(self, customer_id: str, system_id: str | None = None) -> str | None:
        """The stored external id of a customer for a system (DELETED: prefix kept)."""
        return self.links.get((system_id or self.system_id, CUSTOMER_TABLE, str(customer_id)))

    def set_link(self, system_id: str, table: str, internal_id: str, external_id: str) -> None:
        """Link a record to its id in another system; a Customer shows the link too."""
        self.links[(system_id, table, internal_id)] = external_id
        self.systems.add(system_id)
        if table == CUSTOMER_TABLE:
            self._link_systems.add(system_id)
            self._sync_external_ids(internal_id)
        self.changed = True

    def add_system(self, system: str) -> None:
        """Make another subscription of this company known, as iPaaS.com would list it."""
        self.systems.add(str(system))

    def known_system(self, raw: str) -> str:
        """A system id from a request, canonical; VALD-1017 if malformed, VALD-1023 if unknown."""
        system = system_id(raw)
        if system not in self.systems:
            raise ApiFailure(
                400, "VALD-1023",
                f"System Id {system} is invalid: it is not a subscription of this company",
            )
        return system

    def delete_link(self, customer_id: str, system_id: str | None = None) -> None:
        """Mark a link as pointing at a deleted record (the DELETED: prefix)."""
        key = (system_id or self.system_id, CUSTOMER_TABLE, str(customer_id))
        current = self.links.get(key)
        if current is not None and not current.startswith("DELETED:"):
            self.links[key] = f"DELETED:{current}"
            self._sync_external_ids(str(customer_id))
            self.changed = True

    def next_customer_id(self) -> str:
        """The id a created Customer gets: one more than the largest numeric id."""
        numbers = [int(cid) for cid in self.customers if cid.isdigit()]
        return str(max(numbers, default=10000) + 1)

    def sorted_customers(self) -> list[JSON]:
        """Stored Customers in listing order."""
        return [self.customers[cid] for cid in self.ordered_ids()]

    def ordered_ids(self) -> list[str]:
        """Customer ids in listing order (numeric first), sorted again only after a new id."""
        if self._ordered is None or len(self._ordered) != len(self.customers):
            def order(cid: str) -> tuple[int, int, str]:
                return (0, int(cid), "") if cid.isdigit() else (1, 0, cid)

            self._ordered = sorted(self.customers, key=order)
        return self._ordered

    def out(self, record: JSON) -> JSON:
        """A stored Customer as the API answers it (numeric id when the options say so)."""
        answer = dict(record)
        ident = str(record["id"])
        answer["id"] = int(ident) if self.options.id_as_number and ident.isdigit() else ident
        return answer

    def _sync_external_ids(self, customer_id: str) -> None:
        # GET Customer shows the links too, one entry per system.
        record = self.customers.get(customer_id)
        if record is None:
            return
        found = ((sid, self.links.get((sid, CUSTOMER_TABLE, customer_id)))
                 for sid in sorted(self._link_systems) if sid.isdigit())
        record["external_ids"] = [
            {"id": f"{sid}-{customer_id}", "system_id": int(sid), "external_id": external,
             "internal_id": customer_id}
            for sid, external in found if external is not None
        ]

    # ---- HTTP ---------------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Serve one request to /customers/... or /sso/..."""
        path = request.url.path.rstrip("/")
        try:
            if path.lower().startswith("/sso/"):
                return self._dispatch(request, path, SSO_ROUTES)
            return self._dispatch(request, path, DATA_ROUTES)
        except ApiFailure as failure:
            return self.error(failure.status, failure.code, failure.message)

    def error(self, status: int, code: str, message: str) -> httpx.Response:
        """An API error response in the configured body shape."""
        return json_response(status, error_body(self.options, status, code, message))

    def _dispatch(
        self, request: httpx.Request, path: str, routes: tuple[Route, ...]
    ) -> httpx.Response:
        allowed = False
        for route in routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method != request.method:
                allowed = True
                continue
            if route.token is not None:
                self.tokens.authorize(
                    request,
                    company=route.token == "company",
                    now=self._clock(),
                    options=self.options,
                )
            return route.handler(self, request, match)
        if allowed:
            raise ApiFailure(405, "VALD-1405", f"{request.method} is not allowed on this route")
        raise ApiFailure(404, "NFND-1000", f"no API route {request.url.path}")
