"""ApiError, and how an error response of either service becomes one, whatever its body."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from core.clients.redaction import redact
from core.model import ErrorKind

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
_CODED = re.compile(r"\b[A-Z]{4}-\d{3,5}\b")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_TEXT = 300


class ApiError(Exception):
    """A failed call to Klaviyo or iPaaS.com, in the service's own terms; never holds a secret."""

    def __init__(
        self,
        service: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        duplicate_profile_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
        attempts: int = 1,
        local: bool = False,
    ) -> None:
        self.service = service
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.duplicate_profile_id = duplicate_profile_id
        self.retry_after = retry_after
        self.method = method
        self.path = path
        self.attempts = attempts
        # Raised before anything was sent (bad input); never a service outage.
        self.local = local
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line for an operator: service, status, code and what the service said."""
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        status = f" {self.status}" if self.status is not None else ""
        code = f" {self.code}" if self.code else ""
        said = self.detail or self.title or "no details given"
        if self.pointer:
            said += f" [at {self.pointer}]"
        elif self.parameter:
            said += f" [parameter {self.parameter}]"
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.service}{status}{code}: {said}{where}{tries}"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ApiError({self.message!r})"

    @property
    def kind(self) -> ErrorKind:
        """The error-log kind of design §9."""
        status = self.status
        if self.local:
            return ErrorKind.VALIDATION
        if self.code == "malformed_response":
            return ErrorKind.API_UNAVAILABLE
        if status is None or status >= 500:
            return ErrorKind.API_UNAVAILABLE
        if status in (401, 403):
            return ErrorKind.AUTH
        if status == 404:
            return ErrorKind.NOT_FOUND
        if status == 409:
            return ErrorKind.CONFLICT
        if status == 429:
            return ErrorKind.RATE_LIMITED
        if status == 400 and self._about_phone():
            return ErrorKind.PHONE_REJECTED
        return ErrorKind.VALIDATION

    @property
    def transient(self) -> bool:
        """Worth retrying later: throttling, server errors, broken connections, garbled answers."""
        if self.local:
            return False
        if self.status is None or self.code == "malformed_response":
            return True
        return self.status in _RETRY_STATUSES or self.status >= 500

    def _about_phone(self) -> bool:
        if self.pointer and "phone_number" in self.pointer:
            return True
        text = f"{self.title or ''} {self.detail or ''}".lower()
        return "phone" in text


def shorten(text: str | None) -> str | None:
    """The text on one line, cut to a length an operator reads at a glance."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: integer, decimal or HTTP date; None if unusable."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def _text_field(node: Mapping[str, Any], *names: str) -> str | None:
    lowered = {str(k).lower(): v for k, v in node.items()}
    for name in names:
        value = lowered.get(name.lower())
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def _klaviyo_fields(body: Any) -> dict[str, Any]:
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return {}
    first = errors[0]
    source: Mapping[str, Any] = first.get("source") or {}
    meta: Mapping[str, Any] = first.get("meta") or {}
    source = source if isinstance(source, Mapping) else {}
    meta = meta if isinstance(meta, Mapping) else {}
    dup = meta.get("duplicate_profile_id")
    fields: dict[str, Any] = {
        "code": _text_field(first, "code"),
        "title": _text_field(first, "title"),
        "detail": _text_field(first, "detail"),
        "pointer": _text_field(source, "pointer"),
        "parameter": _text_field(source, "parameter"),
        "duplicate_profile_id": dup if isinstance(dup, str) and dup else None,
    }
    if len(errors) > 1:
        more = [e.get("detail") for e in errors[1:] if isinstance(e, Mapping) and e.get("detail")]
        if more and fields["detail"]:
            fields["detail"] = "; ".join([fields["detail"], *map(str, more)])
    return fields


def _coded_fields(body: Any) -> dict[str, Any]:
    """iPaaS.com's CATEGORY-NNNN errors; the JSON field names are unpublished, so read widely."""
    if isinstance(body, str):
        match = _CODED.search(body)
        return {"code": match.group(0) if match else None, "detail": body}
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if not isinstance(body, Mapping):
        return {}
    code = _text_field(body, "code", "error_code", "errorCode", "errorcode")
    detail = _text_field(
        body, "message", "detail", "error_description", "error", "errorMessage", "description"
    )
    title = _text_field(body, "title")
    nested = body.get("errors")
    if isinstance(nested, list) and nested and isinstance(nested[0], Mapping):
        inner = _coded_fields(nested[0])
        code = code or inner.get("code")
        detail = detail or inner.get("detail")
    elif isinstance(nested, Mapping):
        # ASP.NET validation problem: {"errors": {"Field": ["message", ...]}}
        parts = [
            f"{key}: {'; '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in nested.items()
        ]
        listed = "; ".join(parts)
        if listed:
            detail = f"{detail}: {listed}" if detail else listed
    if code is None:
        match = _CODED.search(" ".join(filter(None, (detail, title))))
        code = match.group(0) if match else None
    return {"code": code, "title": title, "detail": detail}


def error_from_response(
    service: str, response: httpx.Response, secrets: Sequence[str] = ()
) -> ApiError:
    """An ApiError for an HTTP error response, whatever its body looks like."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    raw = response.text
    fields: dict[str, Any] = {}
    content_type = response.headers.get("Content-Type", "").lower()
    stripped = raw.lstrip()
    if not stripped:
        fields = {"detail": f"HTTP {status} {response.reason_phrase or ''}".strip()}
    elif "html" in content_type or stripped.startswith("<"):
        title = _HTML_TITLE.search(raw)
        page = f" ({title.group(1).strip()})" if title else ""
        fields = {"detail": f"the service answered with an HTML page{page} instead of JSON"}
    else:
        try:
            body = json.loads(raw)
        except ValueError:
            fields = {"detail": f"unreadable error body: {raw}"}
            if stripped[:1] in ("{", "["):
                # JSON cut off on the way: the status may be right but what it said is lost
                # (a 409's duplicate_profile_id), so it counts as garbled and is retried.
                fields["code"] = "malformed_response"
        else:
            fields = _klaviyo_fields(body) or _coded_fields(body)
            if not any(fields.values()):
                fields = {"detail": f"error body without a message: {raw}"}
    def clean(key: str) -> str | None:
        value = fields.get(key)
        return shorten(redact(value, secrets)) if isinstance(value, str) else None

    return ApiError(
        service,
        status=status,
        code=clean("code"),
        title=clean("title"),
        detail=clean("detail"),
        pointer=clean("pointer"),
        parameter=clean("parameter"),
        duplicate_profile_id=clean("duplicate_profile_id"),
        retry_after=retry_after,
        method=response.request.method,
        path=response.request.url.path,
    )


def json_body(
    service: str, response: httpx.Response, secrets: Sequence[str] = ()
) -> Any:
    """The parsed JSON of a success response, or an ApiError saying the body was unreadable."""
    try:
        return json.loads(response.content)
    except ValueError:
        # Redact before cutting, so a secret cannot survive as a truncated prefix.
        snippet = (redact(response.text, secrets) or "")[:80]
        raise ApiError(
            service,
            status=response.status_code,
            code="malformed_response",
            detail=shorten(f"response body is not JSON: {snippet!r}"),
            method=response.request.method,
            path=response.request.url.path,
        ) from None


def malformed(service: str, response: httpx.Response, what: str) -> ApiError:
    """An ApiError for a JSON body that does not have the shape the API documents."""
    return ApiError(
        service,
        status=response.status_code,
        code="malformed_response",
        detail=what,
        method=response.request.method,
        path=response.request.url.path,
    )
