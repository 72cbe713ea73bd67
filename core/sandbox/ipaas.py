"""An emulator of the iPaaS.com customers and sso APIs, as far as public material describes them.

What the reference marks unconfirmed ([U]) is an option in IpaasOptions: the page-number base,
the page-size parameter and default, the JSON type of `id`, the error body shape, whether
X-Client-Id is required and whether data routes need a company (ChangeCompany) token. The
create/update customer routes (`POST /customers/v2/Customer`, `PUT /customers/v2/Customer/{id}`)
are sandbox conveniences: the real paths are not public.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx

from core.model import Customer, CustomerDataError

JSON = dict[str, Any]

HELP_LINK = "https://support.ipaas.com/en/articles/15506870"
CUSTOMER_TABLE = "customer"
# Query parameters that are not field filters on GET v2/Customers.
_RESERVED_PARAMS = frozenset({"action", "pagenumber", "trackingguid", "filter", "sortby"})
# PascalCase filter name (as formulas and the Template use it) -> stored snake_case field.
_FILTER_FIELDS = {
    "id": "id",
    "emailaddress": "email_address",
    "firstname": "first_name",
    "lastname": "last_name",
    "customernumber": "customer_number",
    "company": "company",
    "comment": "comment",
}


class ErrorShape(StrEnum):
    """How an API error body looks; the real field names are not public."""

    FLAT = "flat"  # {"code", "message", "help_link"}
    ENVELOPE = "envelope"  # {"errors": [{"code", "message", "help_link"}]}
    PROBLEM = "problem"  # ASP.NET ProblemDetails: {"type", "title", "status", "code"}


@dataclass(frozen=True)
class IpaasOptions:
    """The emulator's answers to the questions public material leaves open."""

    page_base: int = 1
    page_size: int = 50
    page_size_param: str = "pageSize"
    max_page_size: int = 500
    id_as_number: bool = True
    error_shape: ErrorShape = ErrorShape.FLAT
    quote_external_ids: bool = True
    require_client_id: bool = False
    require_company_token: bool = True
    token_ttl: float = 3600.0


@dataclass(frozen=True)
class SsoUser:
    """The one user the sandbox's sso login accepts."""

    email_address: str
    password: str = field(repr=False)
    company_id: str
    user_id: str = "7f1c2a64-5d0e-4b8a-9a51-3c2f8e4d9b10"
    name: str = "Sandbox Operator"
    company_name: str = "Sandbox Merchant"


@dataclass
class _Token:
    kind: str  # "user" | "company"
    expires_at: float | None  # None = never
    company_id: str | None = None
    refresh_token: str | None = None


class _ApiFailure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


Route = Callable[[httpx.Request, "re.Match[str]"], httpx.Response]


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
    ) -> None:
        self.options = options or IpaasOptions()
        self.system_id = str(system_id)
        self.user = user
        self._clock = clock
        self._tokens: dict[str, _Token] = {token: _Token("company", None)}
        self._refresh: dict[str, str] = {}
        self.customers: dict[str, JSON] = {}
        # (system_id, table, internal id) -> stored external id (may carry the DELETED: prefix)
        self.links: dict[tuple[str, str, str], str] = {}
        # Indexes kept beside the state so a 100,000-customer listing or seed stays linear.
        self._link_systems: set[str] = set()
        self._ordered: list[str] | None = None
        self.changed = False
        self.on_change: Callable[[str, str], None] | None = None
        self._routes = [
            _route("GET", r"/customers/v2/customer/([^/]+)", self._get_customer),
            _route("PUT", r"/customers/v2/customer/([^/]+)", self._put_customer),
            _route("POST", r"/customers/v2/customer", self._post_customer),
            _route("GET", r"/customers/v2/customers", self._list_customers),
            _route("GET", r"/customers/v2/external/lookupexternal/([^/]+)/([^/]+)/([^/]+)",
                   self._lookup_external),
            _route("GET", r"/customers/v2/external/lookupspaceport/([^/]+)/([^/]+)/(.+)",
                   self._lookup_spaceport),
            _route("POST", r"/customers/v2/external/updateexternalid", self._update_link),
            _route("GET", r"/customers/v2/external/missing/([^/]+)/([^/]+)", self._missing),
        ]
        self._sso_routes = [
            _route("POST", r"/sso/v2/auth/login", self._login),
            _route("POST", r"/sso/v2/auth/refresh", self._refresh_token),
            _route("GET", r"/sso/v2/user/changecompany/([^/]+)", self._change_company),
            _route("GET", r"/sso/v2/user/([^/]+)/companies", self._companies),
        ]

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
            self.customers[customer.id] = _stored(raw, customer.id)
        for customer_id, external_id in links.items():
            if str(customer_id) not in self.customers:
                raise ValueError(f"seed links: customer {customer_id} is not in the seed customers")
            self._set_link(str(customer_id), str(external_id))
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
        self._ordered = None
        self.changed = False

    def upsert_customer(self, raw: Mapping[str, Any]) -> str:
        """Create or replace a Customer (API JSON) and fire on_change; returns its id."""
        customer = Customer.from_api(raw)
        scope = "customer/updated" if customer.id in self.customers else "customer/created"
        now = _iso(self._clock())
        stored = _stored(raw, customer.id)
        previous = self.customers.get(customer.id)
        stored.setdefault(
            "created_datetime", previous.get("created_datetime", now) if previous else now
        )
        stored["updated_datetime"] = now
        if previous is None:
            self._ordered = None
        self.customers[customer.id] = stored
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

    # ---- HTTP ---------------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Serve one request to /customers/... or /sso/..."""
        path = request.url.path.rstrip("/")
        try:
            if path.lower().startswith("/sso/"):
                return self._dispatch(request, path, self._sso_routes, sso=True)
            return self._dispatch(request, path, self._routes, sso=False)
        except _ApiFailure as failure:
            return self.error(failure.status, failure.code, failure.message)

    def error(self, status: int, code: str, message: str) -> httpx.Response:
        """An API error response in the configured body shape."""
        item = {"code": code, "message": message, "help_link": HELP_LINK}
        body: JSON
        if self.options.error_shape is ErrorShape.ENVELOPE:
            body = {"errors": [item]}
        elif self.options.error_shape is ErrorShape.PROBLEM:
            body = {"type": HELP_LINK, "title": message, "status": status, "code": code}
        else:
            body = item
        return _json(status, body)

    def _dispatch(
        self,
        request: httpx.Request,
        path: str,
        routes: list[tuple[str, re.Pattern[str], Route]],
        *,
        sso: bool,
    ) -> httpx.Response:
        allowed = False
        for method, pattern, route in routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != request.method:
                allowed = True
                continue
            if not sso or route in (self._change_company, self._companies):
                self._authorize(request, company=not sso)
            return route(request, match)
        if allowed:
            raise _ApiFailure(405, "VALD-1405", f"{request.method} is not allowed on this route")
        raise _ApiFailure(404, "NFND-1000", f"no API route {request.url.path}")

    def _authorize(self, request: httpx.Request, *, company: bool) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if not header:
            raise _ApiFailure(401, "AUTH-1001", "Authorization header missing: send a Bearer token")
        if scheme.lower() != "bearer" or not value.strip():
            raise _ApiFailure(401, "AUTH-1002", "Authorization must be 'Bearer <access token>'")
        token = self._tokens.get(value.strip())
        if token is None:
            raise _ApiFailure(401, "AUTH-1003", "access token is invalid")
        if token.expires_at is not None and self._clock() >= token.expires_at:
            raise _ApiFailure(401, "AUTH-1004", "access token has expired: log in or refresh")
        if company and self.options.require_company_token and token.kind != "company":
            raise _ApiFailure(
                403, "AUTZ-1001", "a company token is required: call v2/User/ChangeCompany first"
            )
        if company and self.options.require_client_id and not request.headers.get("x-client-id"):
            raise _ApiFailure(401, "AUTH-1005", "X-Client-Id header missing")

    # ---- customers ---------------------------------------------------------------------------

    def _get_customer(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        customer_id = match.group(1)
        stored = self.customers.get(customer_id)
        if stored is None:
            raise _ApiFailure(404, "NFND-1005", f"iPaaS.com Id (Id:{customer_id}) not found")
        return _json(200, self._out(stored))

    def _put_customer(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        customer_id = match.group(1)
        if customer_id not in self.customers:
            raise _ApiFailure(404, "NFND-1005", f"iPaaS.com Id (Id:{customer_id}) not found")
        body = _body_object(request)
        self._upsert_checked({**body, "id": customer_id})
        return _json(200, self._out(self.customers[customer_id]))

    def _post_customer(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        body = _body_object(request)
        body = {**body, "id": self.next_customer_id()}
        customer_id = self._upsert_checked(body)
        return _json(201, self._out(self.customers[customer_id]))

    def _upsert_checked(self, body: JSON) -> str:
        try:
            return self.upsert_customer(body)
        except CustomerDataError as exc:
            raise _ApiFailure(400, "VALD-1001", str(exc)) from None

    def _list_customers(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        params = request.url.params
        action = params.get("action", "equals").lower()
        if action not in ("equals", "contains"):
            raise _ApiFailure(400, "VALD-1002", f"action {action!r} is not supported")
        size_param = self.options.page_size_param.lower()
        filters: list[tuple[str, str]] = []
        for name, value in params.multi_items():
            key = name.lower()
            if key in _RESERVED_PARAMS or key == size_param:
                continue
            stored_field = _FILTER_FIELDS.get(key)
            if stored_field is None:
                raise _ApiFailure(400, "VALD-1003", f"{name} is not a filterable Customer field")
            filters.append((stored_field, value.casefold()))
        hits = [
            raw for raw in self._sorted_customers()
            if all(_field_matches(raw.get(f), wanted, action) for f, wanted in filters)
        ] if filters else None
        count = len(hits) if hits is not None else len(self.customers)
        page = _int_param(params, "pageNumber", self.options.page_base)
        size = _int_param(params, self.options.page_size_param, self.options.page_size)
        if page < self.options.page_base:
            raise _ApiFailure(400, "VALD-1004", f"pageNumber starts at {self.options.page_base}")
        if not 1 <= size <= self.options.max_page_size:
            raise _ApiFailure(
                400, "VALD-1005",
                f"{self.options.page_size_param} must be 1..{self.options.max_page_size}",
            )
        start = (page - self.options.page_base) * size
        if hits is None:
            chunk = [self.customers[cid] for cid in self._ordered_ids()[start:start + size]]
        else:
            chunk = hits[start:start + size]
        total_pages = math.ceil(count / size)
        index = page - self.options.page_base
        pagination = {
            "current_Page": page,
            "page_Size": size,
            "total_Count": count,
            "total_Pages": total_pages,
            "has_Previous": index > 0,
            "has_Next": index + 1 < total_pages,
        }
        response = _json(200, [self._out(raw) for raw in chunk])
        response.headers["X-Pagination"] = json.dumps(pagination)
        return response

    def _sorted_customers(self) -> list[JSON]:
        return [self.customers[cid] for cid in self._ordered_ids()]

    def _ordered_ids(self) -> list[str]:
        """Customer ids in listing order (numeric first), sorted again only after a new id."""
        if self._ordered is None or len(self._ordered) != len(self.customers):
            def order(cid: str) -> tuple[int, int, str]:
                return (0, int(cid), "") if cid.isdigit() else (1, 0, cid)

            self._ordered = sorted(self.customers, key=order)
        return self._ordered

    def _out(self, stored: JSON) -> JSON:
        out = dict(stored)
        ident = str(stored["id"])
        out["id"] = int(ident) if self.options.id_as_number and ident.isdigit() else ident
        return out

    # ---- external ids ------------------------------------------------------------------------

    def _lookup_external(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        internal_id, system_id, table = match.groups()
        system_id = _system_id(system_id)
        external = self.links.get((system_id, table.lower(), internal_id))
        if external is None:
            raise _ApiFailure(
                404, "NFND-1006",
                f"no external id for {table} {internal_id} in system {system_id}",
            )
        return self._raw_string(external)

    def _lookup_spaceport(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        system_id, table, external_id = match.groups()
        system_id = _system_id(system_id)
        for (sid, tbl, internal), external in self.links.items():
            if sid == system_id and tbl == table.lower() and external == external_id:
                return self._raw_string(internal)
        raise _ApiFailure(
            404, "NFND-1007", f"no {table} record has external id {external_id} in {system_id}"
        )

    def _update_link(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        body = _body_object(request)
        values: dict[str, str] = {}
        for name in ("table_name", "system_id", "external_id", "internal_id"):
            value = body.get(name)
            if value is None or isinstance(value, bool | dict | list) or not str(value).strip():
                raise _ApiFailure(400, "VALD-1010", f"{name} is required")
            values[name] = str(value).strip()
        system_id = _system_id(values["system_id"])
        table = values["table_name"].lower()
        internal = values["internal_id"]
        if table == CUSTOMER_TABLE and internal not in self.customers:
            raise _ApiFailure(404, "NFND-1005", f"iPaaS.com Id (Id:{internal}) not found")
        self.links[(system_id, table, internal)] = values["external_id"]
        if table == CUSTOMER_TABLE:
            self._link_systems.add(system_id)
            self._sync_external_ids(internal)
        self.changed = True
        return _json(200, {
            "table_name": values["table_name"],
            "system_id": int(system_id),
            "external_id": values["external_id"],
            "internal_id": internal,
        })

    def _missing(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        system_id, table = match.groups()
        system_id = _system_id(system_id)
        if table.lower() != CUSTOMER_TABLE:
            return _json(200, [])
        ids = [
            self._out(raw)["id"] for raw in self._sorted_customers()
            if (system_id, CUSTOMER_TABLE, str(raw["id"])) not in self.links
        ]
        return _json(200, ids)

    def _raw_string(self, value: str) -> httpx.Response:
        if self.options.quote_external_ids:
            return _json(200, value)
        return httpx.Response(
            200, content=value.encode(), headers={"Content-Type": "text/plain; charset=utf-8"}
        )

    def _set_link(self, customer_id: str, external_id: str) -> None:
        self.links[(self.system_id, CUSTOMER_TABLE, customer_id)] = external_id
        self._link_systems.add(self.system_id)
        self._sync_external_ids(customer_id)

    def _sync_external_ids(self, customer_id: str) -> None:
        # GET Customer shows the links too, one entry per system.
        stored = self.customers.get(customer_id)
        if stored is None:
            return
        found = ((sid, self.links.get((sid, CUSTOMER_TABLE, customer_id)))
                 for sid in sorted(self._link_systems) if sid.isdigit())
        stored["external_ids"] = [
            {"id": f"{sid}-{customer_id}", "system_id": int(sid), "external_id": external,
             "internal_id": customer_id}
            for sid, external in found if external is not None
        ]

    # ---- sso ---------------------------------------------------------------------------------

    def _login(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        body = _body_object(request)
        user = self.user
        email = str(body.get("email_address") or "")
        password = str(body.get("password") or "")
        if not email or not password:
            raise _ApiFailure(400, "VALD-1020", "email_address and password are required")
        if (
            user is None
            or email.casefold() != user.email_address.casefold()
            or not secrets.compare_digest(password.encode(), user.password.encode())
        ):
            raise _ApiFailure(401, "AUTH-1010", "email address or password is incorrect")
        return _json(200, self._issue("user", None))

    def _refresh_token(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        body = _body_object(request)
        access = str(body.get("access_token") or "")
        refresh = str(body.get("refresh_token") or "")
        token = self._tokens.get(access)
        if token is None or not refresh or self._refresh.get(refresh) != access:
            raise _ApiFailure(401, "AUTH-1011", "refresh token is invalid")
        del self._refresh[refresh]
        self._tokens.pop(access, None)
        return _json(200, self._issue(token.kind, token.company_id))

    def _change_company(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        company_id = match.group(1).lower()
        if self.user is None or company_id != self.user.company_id.lower():
            raise _ApiFailure(403, "AUTZ-1002", f"no access to company {company_id}")
        return _json(200, self._issue("company", self.user.company_id))

    def _companies(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if self.user is None or match.group(1).lower() != self.user.user_id.lower():
            raise _ApiFailure(403, "AUTZ-1003", "no access to this user's companies")
        return _json(200, [{"id": self.user.company_id, "name": self.user.company_name}])

    def _issue(self, kind: str, company_id: str | None) -> JSON:
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        expires = self._clock() + self.options.token_ttl
        self._tokens[access] = _Token(kind, expires, company_id, refresh)
        self._refresh[refresh] = access
        user = self.user
        return {
            "id": user.user_id if user else None,
            "name": user.name if user else None,
            "email_address": user.email_address if user else None,
            "access_token": access,
            "access_token_expiration": _iso(expires),
            "refresh_token": refresh,
            "permissions": ["customers.read", "customers.write", "external.write"],
        }


# ---- helpers ---------------------------------------------------------------------------------


def _route(method: str, pattern: str, handler: Route) -> tuple[str, re.Pattern[str], Route]:
    # ASP.NET routes match case-insensitively; ids in the path keep their case.
    return method, re.compile(pattern, re.IGNORECASE), handler


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


def _stored(raw: Mapping[str, Any], customer_id: str) -> JSON:
    stored = json.loads(json.dumps(dict(raw)))  # a deep, JSON-clean copy
    stored["id"] = customer_id
    return stored  # type: ignore[no-any-return]


def _body_object(request: httpx.Request) -> JSON:
    try:
        body = json.loads(
            request.content or b"null", parse_constant=_refuse_constant, parse_float=_finite
        )
    except (ValueError, RecursionError):
        raise _ApiFailure(400, "VALD-1000", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _ApiFailure(400, "VALD-1000", "request body must be a JSON object")
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large for a JSON number")
    return value


def _int_param(params: httpx.QueryParams, name: str, default: int) -> int:
    wanted = name.lower()
    for key, value in params.multi_items():
        if key.lower() == wanted:
            try:
                return int(value)
            except ValueError:
                raise _ApiFailure(400, "VALD-1006", f"{name} must be a whole number") from None
    return default


def _system_id(raw: str) -> str:
    # isdigit() is true for digits int() refuses ("²"); system ids are short ASCII numbers.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18) or int(raw) <= 0:
        raise _ApiFailure(400, "VALD-1017", f"System Id {raw!r} is invalid: it must be > 0")
    return str(int(raw))


def _field_matches(value: Any, wanted: str, action: str) -> bool:
    if value is None:
        return False
    text = str(value).casefold()
    return text == wanted if action == "equals" else wanted in text


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
