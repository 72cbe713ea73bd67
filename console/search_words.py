"""The words of a customer search, shared by the lookup, the palette and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.engine.customer_index import CustomerHit, CustomerSearch, IndexStatus

REFRESH_INDEX = "Refresh the customer index"
CONSOLE_REFRESH = f"ctrl+p, '{REFRESH_INDEX.lower()}'"


def hit_label(hit: CustomerHit) -> str:
    """A search hit for a pick list: who, and what of them matched."""
    return f"{hit.display_name} <{hit.email_address or '-'}>  · {hit.why}"


def index_words(index: IndexStatus | None, refresh: str = CONSOLE_REFRESH) -> str:
    """What the customer index holds and how fresh it is, or that it is still building."""
    if index is None:
        return "the customer index is not open"
    if index.building:
        return (f"the customer index is still being built ({index.read:,} customers read so "
                "far): try again in a moment")
    if index.refreshed_at is None:
        if not index.customers:
            return f"the customer index is empty: {refresh}"
        return (f"the customer index holds only the {index.customers:,} customers read so "
                f"far: {refresh}")
    return (f"the customer index holds {index.customers:,} customers, refreshed "
            f"{when(index.refreshed_at)}; not there yet? {refresh}")


def when(iso: str) -> str:
    """An ISO 8601 UTC time as the operator reads it."""
    try:
        return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M} UTC"
    except ValueError:
        return iso


def no_match(query: str, found: CustomerSearch) -> str:
    """Why nothing matched and what to do, in the status line's words."""
    return (f"No customer matches '{query}'. Search takes an id, a complete email address or "
            f"a first or last name (asked of iPaaS.com), or the start of any word of an email, "
            f"name or company: {index_words(found.index)}.")


def more_words(found: CustomerSearch) -> str:
    """How many matched beyond those shown ("" when none)."""
    if not found.more:
        return ""
    count = f"more than {found.more:,}" if found.more_is_lower_bound else f"{found.more:,}"
    return f"{count} more not shown: type more of it"


def search_title(found: CustomerSearch) -> str:
    """The pick list's title: how many matched, and how many of them are shown."""
    total = f"{found.total:,}{'+' if found.more_is_lower_bound else ''}"
    title = f"{total} customers match '{found.query}'"
    more = more_words(found)
    return f"{title} ({more})" if more else title
