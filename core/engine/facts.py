"""The facts a plan is made from, and the one planner over them (contract §2).

core.plan is getting `Facts` and `plan_customer` (issue 14); until it has them this module holds
their shape and plans through `plan_push`, so every mode already plans from the same facts. When
core.plan has them, this module only re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from core.mapping import Template
from core.model import Customer, KlaviyoList, Plan, Profile
from core.plan import PlanSettings, Resolution, plan_push


@dataclass(frozen=True)
class Facts:
    """Everything the planner reads about one customer, however a mode gathered it."""

    customer: Customer
    link: str | None
    linked_profile: Profile | None  # None with link set = stale link (404)
    email_match: Profile | None
    phone_match: Profile | None
    lists: Mapping[str, KlaviyoList | None]  # every list the mapping names, by name
    # list_id -> member profile ids among the candidate profiles; None = not known
    memberships: Mapping[str, frozenset[str]] | None
    # (profile_id, list_id or "") -> ISO time a double opt-in consent email was sent
    consent_emails: Mapping[tuple[str, str], str] | None
    unknown: tuple[str, ...] = ()
    now: str = ""
    resend_consent_email: bool = False

    @property
    def candidates(self) -> tuple[str, ...]:
        """Ids of the profiles the customer may land on, linked first, without repeats."""
        found = (self.linked_profile, self.email_match, self.phone_match)
        return tuple(dict.fromkeys(p.id for p in found if p is not None))


def _with_memberships(profile: Profile | None,
                      memberships: Mapping[str, frozenset[str]] | None) -> Profile | None:
    if profile is None or memberships is None:
        return profile
    return replace(profile, list_ids=frozenset(
        list_id for list_id, members in memberships.items() if profile.id in members))


def plan_customer(facts: Facts, template: Template, settings: PlanSettings) -> Plan:
    """THE plan of one customer from its facts: preview, push, sync, bulk, retry and listen."""
    resolution = Resolution(
        link=facts.link,
        linked_profile=_with_memberships(facts.linked_profile, facts.memberships),
        email_match=_with_memberships(facts.email_match, facts.memberships),
        phone_match=_with_memberships(facts.phone_match, facts.memberships),
        lists=facts.lists,
    )
    return plan_push(facts.customer, template, resolution, settings)
