"""iPaaS.com external-id routes: the links between a Customer and a record in another system."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx

from core.sandbox.ipaas.wire import (
    CUSTOMER_TABLE,
    ApiFailure,
    body_object,
    json_response,
)

if TYPE_CHECKING:
    from core.sandbox.ipaas.emulator import IpaasEmulator


def lookup_external(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """GET .../external/LookupExternal/{internal id}/{system id}/{table}."""
    internal_id, raw_system, table = match.groups()
    system = emu.known_system(raw_system)
    external = emu.links.get((system, table.lower(), internal_id))
    if external is None:
        raise ApiFailure(
            404, "NFND-1006",
            f"no external id for {table} {internal_id} in system {system}",
        )
    return _raw_string(emu, external)


def lookup_spaceport(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """GET .../external/LookupSpaceport/{system id}/{table}/{external id}."""
    raw_system, table, external_id = match.groups()
    system = emu.known_system(raw_system)
    for (sid, tbl, internal), external in emu.links.items():
        if sid == system and tbl == table.lower() and external == external_id:
            return _raw_string(emu, internal)
    raise ApiFailure(
        404, "NFND-1007", f"no {table} record has external id {external_id} in {system}"
    )


def update_link(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """POST .../external/UpdateExternalId."""
    body = body_object(request)
    values: dict[str, str] = {}
    for name in ("table_name", "system_id", "external_id", "internal_id"):
        value = body.get(name)
        if value is None or isinstance(value, bool | dict | list) or not str(value).strip():
            raise ApiFailure(400, "VALD-1010", f"{name} is required")
        values[name] = str(value).strip()
    system = emu.known_system(values["system_id"])
    table = values["table_name"].lower()
    internal = values["internal_id"]
    if table == CUSTOMER_TABLE and internal not in emu.customers:
        raise ApiFailure(404, "NFND-1005", f"iPaaS.com Id (Id:{internal}) not found")
    emu.set_link(system, table, internal, values["external_id"])
    return json_response(200, {
        "table_name": values["table_name"],
        "system_id": int(system),
        "external_id": values["external_id"],
        "internal_id": internal,
    })


def missing(emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
    """GET .../external/Missing/{system id}/{table}: ids with no link in that system."""
    raw_system, table = match.groups()
    system = emu.known_system(raw_system)
    if table.lower() != CUSTOMER_TABLE:
        return json_response(200, [])
    ids = [
        emu.out(raw)["id"] for raw in emu.sorted_customers()
        if (system, CUSTOMER_TABLE, str(raw["id"])) not in emu.links
    ]
    return json_response(200, ids)


def _raw_string(emu: IpaasEmulator, value: str) -> httpx.Response:
    if emu.options.quote_external_ids:
        return json_response(200, value)
    return httpx.Response(
        200, content=value.encode(), headers={"Content-Type": "text/plain; charset=utf-8"}
    )
