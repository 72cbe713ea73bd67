"""List membership of many people at once: which profiles holding these identifiers a list has."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from core.clients.klaviyo_endpoints import LIST_MEMBER_IDS, PAGE_MAX, filter_string

# (path, bucket, query) -> each resource of every page, as KlaviyoClient._pages yields them.
Pages = Callable[[str, str, Mapping[str, str]], AsyncIterator[Any]]


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _queries(field_name: str, values: list[str]) -> list[dict[str, str]]:
    """One query per 100 values: any() takes at most a page's worth."""
    queries = []
    for start in range(0, len(values), PAGE_MAX):
        listed = ",".join(filter_string(value) for value in values[start : start + PAGE_MAX])
        queries.append({"filter": f"any({field_name},[{listed}])", "page[size]": str(PAGE_MAX)})
    return queries


async def read_list_member_ids(
    pages: Pages, list_id: str, emails: Iterable[str], phone_numbers: Iterable[str]
) -> frozenset[str]:
    """Ids of the list's members holding any of these, 100 identifiers a request, all at once.

    The relationships view answers profile ids only: a caller that knows which profile holds
    an identifier (Klaviyo keeps an email or phone number on one profile at most) needs no
    more, and a member costs a few bytes instead of its whole profile.
    """
    # Every spelling is asked: whether Klaviyo compares emails case-insensitively is unconfirmed.
    queries = [*_queries("email", _distinct(emails)),
               *_queries("phone_number", _distinct(phone_numbers))]
    path = f"/api/lists/{list_id}/relationships/profiles"

    async def members(query: Mapping[str, str]) -> list[Any]:
        return [resource async for resource in pages(path, LIST_MEMBER_IDS, query)]

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(members(query)) for query in queries]
    except BaseExceptionGroup as failed:
        # Callers handle one ApiError like any other call's, not a group of them.
        raise failed.exceptions[0] from None
    return frozenset(str(resource["id"]) for task in tasks for resource in task.result()
                     if isinstance(resource, Mapping) and resource.get("id"))
