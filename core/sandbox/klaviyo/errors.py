"""Klaviyo's JSON:API error documents and the exception that carries one through a handler."""

from __future__ import annotations

import json
from typing import Any

import httpx

from core.sandbox.klaviyo.ids import error_id

JSON_API = "application/vnd.api+json"

_TITLES = {
    400: "Invalid input.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "Request entity too large.",
    415: "Unsupported media type.",
    429: "Request was throttled.",
    500: "A server error occurred.",
}


class KlaviyoProblem(Exception):
    """One error response: status, code, title, detail and where in the request it points."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        title: str | None = None,
        meta: dict[str, Any] | None = None,
        links: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.title = title or _TITLES.get(status, "Error.")
        self.meta = meta or {}
        self.links = links
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The error document, as Klaviyo sends it."""
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        error: dict[str, Any] = {
            "id": error_id(),
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "source": source,
        }
        if self.links is not None:
            error["links"] = self.links
        error["meta"] = self.meta
        return {"errors": [error]}

    def response(self) -> httpx.Response:
        """The HTTP response for this problem."""
        headers = {"Content-Type": JSON_API, **self.headers}
        return httpx.Response(
            self.status, headers=headers, content=json.dumps(self.body()).encode()
        )


def invalid(
    detail: str, *, pointer: str | None = None, parameter: str | None = None
) -> KlaviyoProblem:
    """A 400 `invalid` problem."""
    if pointer is None and parameter is None:
        pointer = "/data"
    return KlaviyoProblem(400, "invalid", detail, pointer=pointer, parameter=parameter)


def not_a_field(name: str, pointer: str, resource: str = "profile") -> KlaviyoProblem:
    """The 400 Klaviyo sends for an attribute outside the resource's schema."""
    return invalid(f"'{name}' is not a valid field for the resource '{resource}'.", pointer=pointer)


def not_found(detail: str, *, pointer: str | None = None) -> KlaviyoProblem:
    """A 404 `not_found` problem."""
    return KlaviyoProblem(404, "not_found", detail, pointer=pointer)


def duplicate_profile(profile_id: str) -> KlaviyoProblem:
    """The 409 `duplicate_profile` body, naming the profile that owns the identifier."""
    return KlaviyoProblem(
        409,
        "duplicate_profile",
        "A profile already exists with one of these identifiers.",
        pointer="/data/attributes",
        links={},
        meta={"duplicate_profile_id": profile_id},
    )
