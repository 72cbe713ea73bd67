"""List membership of many people at once: which asked emails and phone numbers a list holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.clients.klaviyo_endpoints import LIST_MEMBERS, PAGE_MAX, filter_string

# (path, bucket, query) -> each resource of every page, as KlaviyoClient._pages yields them.
Pages = Callable[[str, str, Mapping[str, str]], AsyncIterator[Any]]


@dataclass(frozen=True, slots=True)
class ListMembers:
    """Which of the asked identifiers belong to one list, each with the member's profile id.

    Keys are the emails and phone numbers as the caller spelled them; an email matches
    whatever case Klaviyo stores it in.
    """

    list_id: str
    by_email: Mapping[str, str] = field(default_factory=dict)
    by_phone: Mapping[str, str] = field(default_factory=dict)

    @property
    def emails(self) -> frozenset[str]:
        """The asked emails whose profile is a member."""
        return frozenset(self.by_email)

    @property
    def phone_numbers(self) -> frozenset[str]:
        """The asked phone numbers whose profile is a member."""
        return frozenset(self.by_phone)

    @property
    def profile_ids(self) -> frozenset[str]:
        """Ids of the member profiles found through any asked identifier."""
        return frozenset(self.by_email.values()) | frozenset(self.by_phone.values())

    def member_id(self, *, email: str | None = None, phone_number: str | None = None) -> str | None:
        """The member profile the list holds under this email, else under this phone number."""
        found = self.by_email.get(email) if email else None
        if found is None and phone_number:
            found = self.by_phone.get(phone_number)
        return found


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _queries(field_name: str, values: list[str]) -> list[dict[str, str]]:
    """One query per 100 values: any() takes at most a page's worth."""
    queries = []
    for start in range(0, len(values), PAGE_MAX):
        listed = ",".join(filter_string(value) for value in values[start : start + PAGE_MAX])
        queries.append(
            {
                "filter": f"any({field_name},[{listed}])",
                "fields[profile]": "email,phone_number",
                "page[size]": str(PAGE_MAX),
            }
        )
    return queries


async def read_list_members(
    pages: Pages, list_id: str, emails: Iterable[str], phone_numbers: Iterable[str]
) -> ListMembers:
    """Ask the list's profiles for these identifiers, 100 a request, all requests at once."""
    wanted_emails: dict[str, list[str]] = {}
    for email in _distinct(emails):
        wanted_emails.setdefault(email.casefold(), []).append(email)
    wanted_phones = _distinct(phone_numbers)
    path = f"/api/lists/{list_id}/profiles"
    # Every spelling is asked: whether Klaviyo compares emails case-insensitively is unconfirmed.
    every_spelling = [s for spellings in wanted_emails.values() for s in spellings]
    queries = [*_queries("email", every_spelling), *_queries("phone_number", wanted_phones)]

    async def members(query: Mapping[str, str]) -> list[Any]:
        return [resource async for resource in pages(path, LIST_MEMBERS, query)]

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(members(query)) for query in queries]
    except BaseExceptionGroup as failed:
        # Callers handle one ApiError like any other call's, not a group of them.
        raise failed.exceptions[0] from None
    by_email: dict[str, str] = {}
    by_phone: dict[str, str] = {}
    phones = set(wanted_phones)
    for task in tasks:
        for resource in task.result():
            if not isinstance(resource, Mapping) or not resource.get("id"):
                continue
            pid = str(resource["id"])
            attributes = resource.get("attributes")
            if not isinstance(attributes, Mapping):
                continue
            stored_email = attributes.get("email")
            if isinstance(stored_email, str):
                for spelling in wanted_emails.get(stored_email.casefold(), ()):
                    by_email[spelling] = pid
            stored_phone = attributes.get("phone_number")
            if isinstance(stored_phone, str) and stored_phone in phones:
                by_phone[stored_phone] = pid
    return ListMembers(list_id, by_email, by_phone)
