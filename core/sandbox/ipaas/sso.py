"""iPaaS.com sso: access tokens, their checks, and the login, refresh and company routes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from core.sandbox.ipaas.wire import (
    JSON,
    ApiFailure,
    IpaasOptions,
    SsoUser,
    body_object,
    iso,
    json_response,
)

if TYPE_CHECKING:
    from core.sandbox.ipaas.emulator import IpaasEmulator


@dataclass
class Token:
    """One access token: a user's or a company's, with its expiry and refresh token."""

    kind: str  # "user" | "company"
    expires_at: float | None  # None = never
    company_id: str | None = None
    refresh_token: str | None = None


class TokenDesk:
    """The tokens the emulator accepts: the configured one, and those sso issued."""

    def __init__(self, token: str) -> None:
        self._tokens: dict[str, Token] = {token: Token("company", None)}
        self._refresh: dict[str, str] = {}

    def authorize(
        self, request: httpx.Request, *, company: bool, now: float, options: IpaasOptions
    ) -> None:
        """Refuse a request without a live token of the kind the route needs."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if not header:
            raise ApiFailure(401, "AUTH-1001", "Authorization header missing: send a Bearer token")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiFailure(401, "AUTH-1002", "Authorization must be 'Bearer <access token>'")
        token = self._tokens.get(value.strip())
        if token is None:
            raise ApiFailure(401, "AUTH-1003", "access token is invalid")
        if token.expires_at is not None and now >= token.expires_at:
            raise ApiFailure(401, "AUTH-1004", "access token has expired: log in or refresh")
        if company and options.require_company_token and token.kind != "company":
            raise ApiFailure(
                403, "AUTZ-1001", "a company token is required: call v2/User/ChangeCompany first"
            )
        if company and options.require_client_id and not request.headers.get("x-client-id"):
            raise ApiFailure(401, "AUTH-1005", "X-Client-Id header missing")

    def issue(
        self, kind: str, company_id: str | None, user: SsoUser | None, expires: float
    ) -> JSON:
        """A new access and refresh token pair, as the login answer carries it."""
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        self._tokens[access] = Token(kind, expires, company_id, refresh)
        self._refresh[refresh] = access
        return {
            "id": user.user_id if user else None,
            "name": user.name if user else None,
            "email_address": user.email_address if user else None,
            "access_token": access,
            "access_token_expiration": iso(expires),
            "refresh_token": refresh,
            "permissions": ["customers.read", "customers.write", "external.write"],
        }

    def redeem(self, access: str, refresh: str) -> Token:
        """Retire a token pair for a refresh, returning what the old access token was."""
        token = self._tokens.get(access)
        if token is None or not refresh or self._refresh.get(refresh) != access:
            raise ApiFailure(401, "AUTH-1011", "refresh token is invalid")
        del self._refresh[refresh]
        self._tokens.pop(access, None)
        return token


def _issue(emu: IpaasEmulator, kind: str, company_id: str | None) -> httpx.Response:
    expires = emu.now() + emu.options.token_ttl
    return json_response(200, emu.tokens.issue(kind, company_id, emu.user, expires))


def login(emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
    """POST /sso/v2/Auth/Login."""
    body = body_object(request)
    user = emu.user
    email = str(body.get("email_address") or "")
    password = str(body.get("password") or "")
    if not email or not password:
        raise ApiFailure(400, "VALD-1020", "email_address and password are required")
    if (
        user is None
        or email.casefold() != user.email_address.casefold()
        or not secrets.compare_digest(password.encode(), user.password.encode())
    ):
        raise ApiFailure(401, "AUTH-1010", "email address or password is incorrect")
    return _issue(emu, "user", None)


def refresh_token(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """POST /sso/v2/Auth/Refresh."""
    body = body_object(request)
    token = emu.tokens.redeem(
        str(body.get("access_token") or ""), str(body.get("refresh_token") or "")
    )
    return _issue(emu, token.kind, token.company_id)


def change_company(
    emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]
) -> httpx.Response:
    """GET /sso/v2/User/ChangeCompany/{company id}."""
    company_id = match.group(1).lower()
    if emu.user is None or company_id != emu.user.company_id.lower():
        raise ApiFailure(403, "AUTZ-1002", f"no access to company {company_id}")
    return _issue(emu, "company", emu.user.company_id)


def companies(emu: IpaasEmulator, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
    """GET /sso/v2/User/{user id}/Companies."""
    if emu.user is None or match.group(1).lower() != emu.user.user_id.lower():
        raise ApiFailure(403, "AUTZ-1003", "no access to this user's companies")
    return json_response(200, [{"id": emu.user.company_id, "name": emu.user.company_name}])
