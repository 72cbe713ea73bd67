"""iPaaS.com Customer routes: get, list with filters and paging, and the sandbox's create/update."""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

import httpx

from core.model import CustomerDataError
from core.sandbox.ipaas.wire import JSON, ApiFailure, body_object, int_param, json_response

if TYPE_CHECKING:
    from core.sandbox.ipaas.emulator import IpaasEmulator

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


def get_customer(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """GET /customers/v2/Customer/{id}."""
    customer_id = match.group(1)
    stored = emu.customers.get(customer_id)
    if stored is None:
        raise ApiFailure(404, "NFND-1005", f"iPaaS.com Id (Id:{customer_id}) not found")
    return json_response(200, emu.out(stored))


def put_customer(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """PUT /customers/v2/Customer/{id} (a sandbox convenience: the real path is not public)."""
    customer_id = match.group(1)
    if customer_id not in emu.customers:
        raise ApiFailure(404, "NFND-1005", f"iPaaS.com Id (Id:{customer_id}) not found")
    body = body_object(request)
    _upsert_checked(emu, {**body, "id": customer_id})
    return json_response(200, emu.out(emu.customers[customer_id]))


def post_customer(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """POST /customers/v2/Customer (a sandbox convenience: the real path is not public)."""
    body = body_object(request)
    body = {**body, "id": emu.next_customer_id()}
    customer_id = _upsert_checked(emu, body)
    return json_response(201, emu.out(emu.customers[customer_id]))


def _upsert_checked(emu: IpaasEmulator, body: JSON) -> str:
    try:
        return emu.upsert_customer(body)
    except CustomerDataError as exc:
        raise ApiFailure(400, "VALD-1001", str(exc)) from None


def list_customers(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """GET /customers/v2/Customers: field filters, page number and size, X-Pagination."""
    options = emu.options
    params = request.url.params
    action = params.get("action", "equals").lower()
    if action not in ("equals", "contains"):
        raise ApiFailure(400, "VALD-1002", f"action {action!r} is not supported")
    size_param = options.page_size_param.lower()
    filters: list[tuple[str, str]] = []
    for name, value in params.multi_items():
        key = name.lower()
        if key in _RESERVED_PARAMS or key == size_param:
            continue
        stored_field = _FILTER_FIELDS.get(key)
        if stored_field is None:
            raise ApiFailure(400, "VALD-1003", f"{name} is not a filterable Customer field")
        filters.append((stored_field, value.casefold()))
    hits = [
        raw for raw in emu.sorted_customers()
        if all(_field_matches(raw.get(f), wanted, action) for f, wanted in filters)
    ] if filters else None
    count = len(hits) if hits is not None else len(emu.customers)
    page = int_param(params, "pageNumber", options.page_base)
    size = int_param(params, options.page_size_param, options.page_size)
    if page < options.page_base:
        raise ApiFailure(400, "VALD-1004", f"pageNumber starts at {options.page_base}")
    if not 1 <= size <= options.max_page_size:
        raise ApiFailure(
            400, "VALD-1005",
            f"{options.page_size_param} must be 1..{options.max_page_size}",
        )
    start = (page - options.page_base) * size
    if hits is None:
        chunk = [emu.customers[cid] for cid in emu.ordered_ids()[start:start + size]]
    else:
        chunk = hits[start:start + size]
    total_pages = math.ceil(count / size)
    index = page - options.page_base
    pagination = {
        "current_Page": page,
        "page_Size": size,
        "total_Count": count,
        "total_Pages": total_pages,
        "has_Previous": index > 0,
        "has_Next": index + 1 < total_pages,
    }
    response = json_response(200, [emu.out(raw) for raw in chunk])
    response.headers["X-Pagination"] = json.dumps(pagination)
    return response


def _field_matches(value: Any, wanted: str, action: str) -> bool:
    if value is None:
        return False
    text = str(value).casefold()
    return text == wanted if action == "equals" else wanted in text
