"""The iPaaS.com emulator's open questions as options, its API failures and its JSON plumbing."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx

JSON = dict[str, Any]

HELP_LINK = "https://support.ipaas.com/en/articles/15506870"
CUSTOMER_TABLE = "customer"


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


class ApiFailure(Exception):
    """An API error a handler raises; the emulator answers it in the configured shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(options: IpaasOptions, status: int, code: str, message: str) -> JSON:
    """An API error body in the shape the options choose."""
    item = {"code": code, "message": message, "help_link": HELP_LINK}
    if options.error_shape is ErrorShape.ENVELOPE:
        return {"errors": [item]}
    if options.error_shape is ErrorShape.PROBLEM:
        return {"type": HELP_LINK, "title": message, "status": status, "code": code}
    return item


def json_response(status: int, body: Any) -> httpx.Response:
    """A JSON answer as iPaaS.com's ASP.NET host writes it."""
    return httpx.Response(
        status,
        content=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


def stored(raw: Mapping[str, Any], customer_id: str) -> JSON:
    """A deep, JSON-clean copy of a Customer, keyed by its id."""
    copy = json.loads(json.dumps(dict(raw)))
    copy["id"] = customer_id
    return copy  # type: ignore[no-any-return]


def body_object(request: httpx.Request) -> JSON:
    """The request's JSON object body, refused with 400 when it is anything else."""
    try:
        body = json.loads(
            request.content or b"null", parse_constant=_refuse_constant, parse_float=_finite
        )
    except (ValueError, RecursionError):
        raise ApiFailure(400, "VALD-1000", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiFailure(400, "VALD-1000", "request body must be a JSON object")
    return body


def int_param(params: httpx.QueryParams, name: str, default: int) -> int:
    """A whole-number query parameter, matched case-insensitively as ASP.NET binds it."""
    wanted = name.lower()
    for key, value in params.multi_items():
        if key.lower() == wanted:
            try:
                return int(value)
            except ValueError:
                raise ApiFailure(400, "VALD-1006", f"{name} must be a whole number") from None
    return default


def system_id(raw: str) -> str:
    """A system id from the path, in canonical form; 400 unless it is a positive number."""
    # isdigit() is true for digits int() refuses ("²"); system ids are short ASCII numbers.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18) or int(raw) <= 0:
        raise ApiFailure(400, "VALD-1017", f"System Id {raw!r} is invalid: it must be > 0")
    return str(int(raw))


def iso(timestamp: float) -> str:
    """A Unix time as an ISO 8601 UTC stamp, whole seconds."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large for a JSON number")
    return value
