"""Steps 2 and 4 of design §3: the facts a plan needs, read with as few round trips as can be.

The Customer and its link come first; then the linked profile, the email and phone matches and
list membership, together. In a batch (`ctx.calls`) reads are shared across its customers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import replace

from core.clients.http import ApiError
from core.clients.ipaas import parse_link
from core.engine.context import Context, CustomerNotFound, StageFailure, staged
from core.engine.planning import Mapped
from core.model import Customer, KlaviyoList, Profile, Stage
from core.plan import Resolution


async def fetch(ctx: Context, customer_id: str, customer: Customer | None = None
                ) -> tuple[Customer, str | None]:
    """Round trip 1: the Customer, its stored link and the template's uncached lists, together."""
    names = ctx.template.list_names()
    if ctx.calls is not None:
        # A batch looks its lists up once, not once per customer that starts meanwhile.
        await ctx.calls.once("lists", lambda: ensure_lists(ctx, names))
        if ctx.calls.bulk:
            await ctx.calls.ready(sms_consent=ctx.settings.sms_consent)
    if customer is not None and ctx.calls is not None and ctx.calls.upsert:
        # A bulk upsert trusts the page's external ids: a link missed here only means the
        # import upserts by identifiers instead of by id, and the link is stored afterwards.
        return customer, _page_link(ctx, customer)
    if customer is not None:
        given = await asyncio.gather(
            staged(Stage.FETCH, ctx.ipaas.lookup_link(customer_id)),
            ensure_lists(ctx, names), return_exceptions=True)
        _raise_first(given)
        return customer, _as_link(given[0])
    got = await asyncio.gather(
        staged(Stage.FETCH, ctx.ipaas.get_customer(customer_id)),
        staged(Stage.FETCH, ctx.ipaas.lookup_link(customer_id)),
        ensure_lists(ctx, names), return_exceptions=True)
    _raise_first(got)
    found = got[0]
    if found is None:
        raise CustomerNotFound(customer_id)
    if not isinstance(found, Customer):
        raise TypeError(f"iPaaS.com client returned {type(found).__name__} for a customer")
    return found, _as_link(got[1])


def _raise_first(outcomes: Sequence[object]) -> None:
    """Raise the first failure in call order (the customer's before the lists')."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _as_link(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _page_link(ctx: Context, customer: Customer) -> str | None:
    system = ctx.ipaas.system_id
    for item in customer.external_ids:
        if str(item.system_id) == system:
            return parse_link(item.external_id)
    return None


async def ensure_lists(ctx: Context, names: Iterable[str]) -> None:
    """Look up, together, every named list not in the cache; lists not in Klaviyo stay uncached."""
    wanted = [name for name in dict.fromkeys(names) if ctx.lists.get(name) is None]
    if not wanted:
        return
    found = await asyncio.gather(
        *(staged(Stage.RESOLVE, ctx.klaviyo.find_list_by_name(name)) for name in wanted))
    for item in found:
        if item is not None:
            ctx.lists.put(item)


def _with_lists(profile: Profile | None, probe: tuple[str | None, str | None],
                members: Mapping[str, frozenset[str]]) -> Profile | None:
    """The profile with the named lists it belongs to, when the check was about this profile."""
    if profile is None or not members:
        return profile
    email, phone = probe
    if email is not None:
        same = profile.email is not None and profile.email.casefold() == email.casefold()
    else:
        same = phone is not None and profile.phone_number == phone
    if not same:
        return profile  # the check filtered by another identity: membership stays unknown
    return replace(profile, list_ids=frozenset(
        list_id for list_id, ids in members.items() if profile.id in ids))


async def resolve(ctx: Context, mapped: Mapped, link: str | None, *,
                  interactive: bool = True) -> Resolution:
    """Round trip 2: the linked profile, email and phone matches and list membership, together.

    Membership is checked list-side (GET /api/lists/{id}/relationships/profiles filtered by
    the customer's email or phone, L tier) rather than with include=lists on the profile read
    (1/s, 15/m). With `interactive` off (batches), a linked customer skips the matches and the
    membership checks to spare rate limit; a stale link then costs one more round trip.
    """
    names = mapped.list_names
    await ensure_lists(ctx, names)  # normally done in round 1: a no-op from the cache
    known = {name: ctx.lists.get(name) for name in names}
    calls = ctx.calls
    if not interactive and calls is not None and calls.opted_out is not None and calls.bulk:
        # Bulk upsert: no target is read; its consent is unknown unless it opted out.
        if link is None:
            return Resolution(link=None, lists=known)
        target = Profile(id=link, subscriptions=calls.opted_out.consent(
            link, mapped.update.attributes.get("email")))
        return Resolution(link=link, linked_profile=target, lists=known)
    probe = mapped.probe()

    async def nothing() -> Profile | None:
        return None

    do_match = interactive or link is None
    shared = ctx.calls if not interactive else None

    def by_email() -> Awaitable[Profile | None]:
        email = mapped.identifiers[0]
        if not email:
            return nothing()
        if shared is not None:
            return shared.profile("email", email)
        return ctx.klaviyo.find_profile_by_email(email)

    def by_phone() -> Awaitable[Profile | None]:
        phone = mapped.identifiers[1]
        if not phone:
            return nothing()
        if shared is not None:
            return shared.profile("phone_number", phone)
        return ctx.klaviyo.find_profile_by_phone(phone)

    if link:
        linked_call = (shared.profile("id", link) if shared is not None
                       else ctx.klaviyo.get_profile(link, include_lists=False))
    else:
        linked_call = nothing()
    email_call = by_email() if do_match else nothing()
    phone_call = by_phone() if do_match else nothing()
    checked = [klist for klist in known.values() if klist is not None]
    if not interactive or probe == (None, None):
        checked = []
    profiles = asyncio.gather(
        staged(Stage.RESOLVE, linked_call),
        staged(Stage.RESOLVE, email_call),
        staged(Stage.RESOLVE, phone_call),
    )
    checks = asyncio.gather(*(
        _list_check(ctx, klist, probe) for klist in checked))
    (linked, email_match, phone_match), found = await asyncio.gather(profiles, checks)
    members = {klist.id: ids for klist, ids in zip(checked, found, strict=True)}
    if link and linked is None:
        # A stale link: the Add collection applies after all, so it is mapped only now. The
        # matches a batch skipped, and the membership of lists only the Add collection names,
        # are read together in one more round trip.
        extra = [name for name in dict.fromkeys(
            intent.list_name for intent in mapped.add.list_intents) if name not in known]
        await ensure_lists(ctx, extra)  # normally a no-op from the cache
        known.update({name: ctx.lists.get(name) for name in extra})
        more = [klist for name in extra if (klist := known[name]) is not None]
        if not interactive or probe == (None, None):
            more = []
        if not do_match or more:
            (email_again, phone_again), found_more = await asyncio.gather(
                asyncio.gather(
                    staged(Stage.RESOLVE, nothing() if do_match else by_email()),
                    staged(Stage.RESOLVE, nothing() if do_match else by_phone())),
                asyncio.gather(*(_list_check(ctx, klist, probe) for klist in more)))
            if not do_match:
                email_match, phone_match = email_again, phone_again
            members.update(zip((klist.id for klist in more), found_more, strict=True))
    return Resolution(
        link=link,
        linked_profile=_with_lists(linked, probe, members),
        email_match=_with_lists(email_match, probe, members),
        phone_match=_with_lists(phone_match, probe, members),
        lists=known,
    )


def forget_list(ctx: Context, name: str) -> None:
    """Drop a list whose cached id went stale from both caches, so the next plan looks it up."""
    ctx.lists.forget(name)
    ctx.klaviyo.forget_list(name)


async def _list_check(ctx: Context, klist: KlaviyoList,
                      probe: tuple[str | None, str | None]) -> frozenset[str]:
    try:
        return await ctx.klaviyo.list_member_ids(klist.id, email=probe[0],
                                                 phone_number=probe[1])
    except ApiError as exc:
        if exc.status == 404:
            forget_list(ctx, klist.name)
        raise StageFailure(Stage.RESOLVE, exc) from exc
