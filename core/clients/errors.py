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

# The name an operator knows each service by, for messages; ApiError.service stays the short id.
SERVICE_NAMES = {"klaviyo": "Klaviyo", "ipaas": "iPaaS.com"}


def service_name(service: str) -> str:
    """The service as an operator knows it: "Klaviyo", "iPaaS.com"."""
    return SERVICE_NAMES.get(service, service)


def origin(url: httpx.URL | str) -> str:
    """scheme://host[:port] of a URL, never its user info, path or query."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{host}{port}"


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
        base_url: str | None = None,
        attempts_allowed: int | None = None,
        total_timeout: float | None = None,
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
        # scheme://host[:port] the request went to, so an operator can tell which URL is wrong.
        self.base_url = base_url
        # Set when the total time box ended the retries before every attempt was made.
        self.attempts_allowed = attempts_allowed
        self.total_timeout = total_timeout
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line for an operator: service, status, code and what the service said."""
        request = f"{self.method} {self.path}" if self.method and self.path else ""
        at = f"on {self.base_url}" if self.base_url else ""
        where = f" ({' '.join(filter(None, (request, at)))})" if request or at else ""
        status = f" {self.status}" if self.status is not None else ""
        code = f" {self.code}" if self.code else ""
        said = self.detail or self.title or "no details given"
        if self.pointer:
            said += f" [at {self.pointer}]"
        elif self.parameter:
            said += f" [parameter {self.parameter}]"
        return f"{self.service}{status}{code}: {said}{where}{self._tries()}"

    def _tries(self) -> str:
        allowed = self.attempts_allowed
        if allowed is not None and allowed > self.attempts:
            limit = f"{self.total_timeout:g} s " if self.total_timeout is not None else ""
            return (f" after {self.attempts} of {allowed} attempts"
                    f" (the {limit}total timeout ran out)")
        return f" after {self.attempts} attempts" if self.attempts > 1 else ""

    def stamp(self, *, attempts: int, attempts_allowed: int | None = None,
              total_timeout: float | None = None, base_url: str | None = None) -> None:
        """Record how the retries ended (and where the calls went), refreshing the message."""
        self.attempts = attempts
        self.attempts_allowed = attempts_allowed
        self.total_timeout = total_timeout
        self.base_url = self.base_url or base_url
        self.args = (self.message,)

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
    def configuration(self) -> bool:
        """Fixed in the settings, not by retrying: credentials refused or lacking a scope."""
        return not self.local and self.status in (401, 403)

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


# iPaaS.com's codes for a System Id it does not accept (reference §3.3, KB/15461551).
SYSTEM_ID_CODES = frozenset({"VALD-1017", "VALD-1023"})


class SystemIdError(ApiError):
    """iPaaS.com refused the configured system id: a configuration mistake, not a customer's."""

    setting = "IPAAS_SYSTEM_ID"

    def __init__(self, refused: ApiError, system_id: str) -> None:
        self.system_id = system_id
        super().__init__(
            refused.service, status=refused.status, code=refused.code, title=refused.title,
            detail=refused.detail, method=refused.method, path=refused.path,
            attempts=refused.attempts, base_url=refused.base_url,
        )

    @property
    def message(self) -> str:
        said = self.detail or self.title or "invalid System Id"
        at = f" on {self.base_url}" if self.base_url else ""
        return (
            f"iPaaS.com{at} does not know system id {self.system_id!r} ({self.code}: {said}); "
            "set IPAAS_SYSTEM_ID (or [ipaas] system_id in the config file) to the system id "
            "of this Klaviyo subscription in iPaaS.com"
        )

    @property
    def kind(self) -> ErrorKind:
        return ErrorKind.AUTH

    @property
    def transient(self) -> bool:
        return False

    @property
    def configuration(self) -> bool:
        return True


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
        base_url=origin(response.request.url),
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
            base_url=origin(response.request.url),
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
        base_url=origin(response.request.url),
    )
