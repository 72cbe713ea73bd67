"""What every Klaviyo emulator handler shares: the request it sees, the reply, cursor paging."""

from __future__ import annotations

import base64
import binascii
import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx

from core.sandbox.klaviyo.errors import invalid

JSON = dict[str, Any]


@dataclass
class Call:
    """One request as the handlers see it."""

    request: httpx.Request
    ids: list[str]
    query: dict[str, str]
    body: Any
    base: str
    headers: dict[str, str] = field(default_factory=dict)


class Reply(NamedTuple):
    """What a handler answers; the dispatcher turns it into one httpx.Response."""

    status: int
    doc: JSON | None
    headers: dict[str, str] | None = None


def iso(moment: datetime) -> str:
    """A moment as Klaviyo writes it: UTC, whole seconds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}::id::{key}".encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        kind, _, key = raw.split("::", 2)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("The page cursor is not valid.", parameter="page[cursor]") from None
    if kind not in {"next", "prev"} or not key:
        raise invalid("The page cursor is not valid.", parameter="page[cursor]")
    return kind, key


def csv_param(call: Call, name: str) -> list[str] | None:
    """A comma-separated query parameter as its parts, or None when absent."""
    raw = call.query.get(name)
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def page_size(call: Call, *, default: int, maximum: int) -> int:
    """The `page[size]` asked for, refused outside 1..maximum."""
    raw = call.query.get("page[size]")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= maximum:
        raise invalid(
            f"Page size must be an integer between 1 and {maximum}.", parameter="page[size]"
        )
    return size


def page(ordered: list[str], call: Call, size: int) -> tuple[list[str], str | None, str | None]:
    """One page of ascending keys plus the next and prev cursors."""
    cursor = call.query.get("page[cursor]")
    start = 0
    if cursor:
        kind, key = _decode_cursor(cursor)
        if kind == "next":
            start = bisect.bisect_right(ordered, key)
        else:
            start = max(0, bisect.bisect_left(ordered, key) - size)
    chunk = ordered[start : start + size]
    nxt = _encode_cursor("next", chunk[-1]) if chunk and start + size < len(ordered) else None
    prev = _encode_cursor("prev", chunk[0]) if chunk and start > 0 else None
    return chunk, nxt, prev


def page_links(call: Call, nxt: str | None, prev: str | None) -> JSON:
    """The self, next and prev links of a cursor-paged answer."""
    path = call.request.url.path
    params = {k: v for k, v in call.query.items() if k != "page[cursor]"}

    def url(cursor: str | None) -> str:
        query = dict(params)
        if cursor:
            query["page[cursor]"] = cursor
        text = urlencode(query)
        return f"{call.base}{path}" + (f"?{text}" if text else "")

    links: JSON = {"self": url(call.query.get("page[cursor]")), "next": None, "prev": None}
    if nxt:
        links["next"] = url(nxt)
    if prev:
        links["prev"] = url(prev)
    return links


def includes(call: Call, allowed: set[str]) -> list[str]:
    """The `include` names asked for, refused when the resource does not allow one."""
    names = csv_param(call, "include") or []
    for name in names:
        if name not in allowed:
            raise invalid(
                f"'{name}' is not an allowed include parameter for this resource.",
                parameter="include",
            )
    return names
