"""Klaviyo's paths, the handler and rate-limit tier of each method, and path matching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.sandbox.klaviyo import import_jobs, lists, profiles, subscriptions
from core.sandbox.klaviyo.calls import Call, Reply
from core.sandbox.klaviyo.ratelimit import L, M, S, Tier

if TYPE_CHECKING:
    from core.sandbox.klaviyo.app import KlaviyoEmulator

Handler = Callable[["KlaviyoEmulator", Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    """A path template, the handler per method, and each method's rate-limit bucket."""

    template: tuple[str, ...]
    methods: dict[str, tuple[str, Handler, Tier]]


def match_route(parts: tuple[str, ...]) -> tuple[Route | None, list[str]]:
    """The route a path's segments name, and the ids in its `{}` places."""
    for route in ROUTES:
        if len(route.template) != len(parts):
            continue
        ids: list[str] = []
        for want, got in zip(route.template, parts, strict=True):
            if want == "{}":
                ids.append(got)
            elif want != got:
                break
        else:
            return route, ids
    return None, []


ROUTES: tuple[Route, ...] = (
    Route(
        ("api", "profiles"),
        {
            "GET": ("get_profiles", profiles.get_profiles, L),
            "POST": ("create_profile", profiles.create_profile, L),
        },
    ),
    Route(
        ("api", "profiles", "{}"),
        {
            "GET": ("get_profile", profiles.get_profile, L),
            "PATCH": ("update_profile", profiles.update_profile, L),
        },
    ),
    Route(
        ("api", "profiles", "{}", "lists"),
        {"GET": ("get_profile_lists", profiles.get_profile_lists, S)},
    ),
    Route(
        ("api", "profiles", "{}", "relationships", "lists"),
        {"GET": ("get_profile_list_ids", profiles.get_profile_list_ids, S)},
    ),
    Route(
        ("api", "profile-import"),
        {"POST": ("create_or_update_profile", profiles.import_profile, L)},
    ),
    Route(
        ("api", "profile-subscription-bulk-create-jobs"),
        {"POST": ("subscribe", subscriptions.subscribe, L)},
    ),
    Route(
        ("api", "profile-subscription-bulk-delete-jobs"),
        {"POST": ("unsubscribe", subscriptions.unsubscribe, L)},
    ),
    Route(
        ("api", "lists"),
        {"GET": ("get_lists", lists.get_lists, L), "POST": ("create_list", lists.create_list, M)},
    ),
    Route(("api", "lists", "{}"), {"GET": ("get_list", lists.get_list, L)}),
    Route(
        ("api", "lists", "{}", "profiles"),
        {"GET": ("get_list_profiles", lists.get_list_profiles, L)},
    ),
    Route(
        ("api", "lists", "{}", "relationships", "profiles"),
        {
            "GET": ("get_list_profile_ids", lists.get_list_profile_ids, L),
            "POST": ("add_profiles_to_list", lists.add_list_members, M),
            "DELETE": ("remove_profiles_from_list", lists.remove_list_members, M),
        },
    ),
    Route(
        ("api", "profile-bulk-import-jobs"),
        {
            "GET": ("get_bulk_import_jobs", import_jobs.get_import_jobs, M),
            "POST": ("bulk_import_profiles", import_jobs.create_import_job, M),
        },
    ),
    Route(
        ("api", "profile-bulk-import-jobs", "{}"),
        {"GET": ("get_bulk_import_job", import_jobs.get_import_job, M)},
    ),
    Route(
        ("api", "profile-bulk-import-jobs", "{}", "import-errors"),
        {"GET": ("get_bulk_import_errors", import_jobs.get_import_errors, M)},
    ),
    Route(
        ("api", "profile-bulk-import-jobs", "{}", "relationships", "profiles"),
        {"GET": ("get_bulk_import_profile_ids", import_jobs.get_import_profile_ids, M)},
    ),
)
