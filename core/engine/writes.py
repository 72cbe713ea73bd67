"""Step 6 of design §3 for one customer: the profile write, then its consent jobs, list calls
and link; in a batch each goes out as this customer's share of a shared request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from core.clients.http import ApiError
from core.clients.klaviyo import ConsentSubject
from core.engine.context import Context, StageFailure, staged
from core.engine.import_jobs import Write
from core.engine.lookups import forget_list
from core.model import (
    JSON,
    Channel,
    ConsentAction,
    ConsentChange,
    ListAction,
    Plan,
    Profile,
    Route,
    Stage,
)


async def write_profile(ctx: Context, plan: Plan) -> Profile | None:
    """Create or patch the plan's profile (an import row in a bulk batch); None for link-only."""
    attributes = attributes_of(plan.payload)
    if attributes is None:
        return None  # link-only: nothing to write
    if ctx.calls is not None and ctx.calls.bulk:
        return await staged(Stage.WRITE, ctx.calls.write(
            Write(plan.route, plan.profile_id, attributes, _carried(ctx, plan))))
    if plan.route is Route.CREATE:
        return await staged(Stage.WRITE, ctx.klaviyo.create_profile(attributes))
    if plan.profile_id is None:
        raise RuntimeError(f"plan routes to {plan.route.value} without a profile id")
    return await staged(Stage.WRITE, ctx.klaviyo.patch_profile(plan.profile_id, attributes))


def _carried(ctx: Context, plan: Plan) -> frozenset[str]:
    """List adds an import job makes for its rows (relationships.lists): none outside bulk."""
    if ctx.calls is None or not ctx.calls.bulk or attributes_of(plan.payload) is None:
        return frozenset()
    return frozenset(c.list_id for c in plan.lists if c.action is ListAction.ADD)


def attributes_of(payload: JSON | None) -> dict[str, Any] | None:
    """A copy of the profile attributes in a JSON:API body, or None when it has none."""
    if not payload:
        return None
    data = payload.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("attributes"), Mapping):
        return dict(data["attributes"])
    return None


async def consent_jobs(ctx: Context, plan: Plan, profile_id: str) -> None:
    """One subscribe or unsubscribe job per action and list, both channels in one subject."""
    groups: dict[tuple[ConsentAction, str | None], list[ConsentChange]] = {}
    for change in plan.consent:
        if not change.sends:
            continue  # a consent email already awaits confirmation: sending again re-emails
        groups.setdefault((change.action, change.list_id), []).append(change)
    calls = []
    for (action, list_id), changes in groups.items():
        email = next((c.subject for c in changes if c.channel is Channel.EMAIL), None)
        phone = next((c.subject for c in changes if c.channel is Channel.SMS), None)
        subject = ConsentSubject(email=email, phone_number=phone, profile_id=profile_id)
        channels = frozenset(c.channel for c in changes)
        if ctx.calls is not None:
            calls.append(staged(Stage.CONSENT, ctx.calls.consent(
                action, subject, channels=channels, list_id=list_id)))
            continue
        run = (ctx.klaviyo.subscribe if action is ConsentAction.SUBSCRIBE
               else ctx.klaviyo.unsubscribe)
        calls.append(staged(Stage.CONSENT, run([subject], channels=channels, list_id=list_id)))
    await _all(calls)


async def list_calls(ctx: Context, plan: Plan, profile_id: str) -> None:
    """The plan's list additions and removals that an import job did not already make."""
    calls = []
    carried = _carried(ctx, plan)
    for change in plan.lists:
        if change.action is ListAction.ADD and change.list_id in carried:
            continue  # the import job added it
        if ctx.calls is not None:
            calls.append(_list_call(ctx, change.list_name, ctx.calls.membership(
                change.action, change.list_id, profile_id)))
            continue
        call = (ctx.klaviyo.add_to_list if change.action is ListAction.ADD
                else ctx.klaviyo.remove_from_list)
        calls.append(_list_call(ctx, change.list_name, call(change.list_id, [profile_id])))
    await _all(calls)


async def _list_call(ctx: Context, name: str, call: Awaitable[None]) -> None:
    try:
        await call
    except ApiError as exc:
        if exc.status == 404:
            forget_list(ctx, name)
        raise StageFailure(Stage.LISTS, exc) from exc


async def store_link(ctx: Context, plan: Plan, profile_id: str) -> None:
    """Store the profile id as the customer's external id in iPaaS.com."""
    if plan.route is Route.UPDATE and plan.profile_id == profile_id:
        return  # already linked to this very profile
    if ctx.calls is not None:
        async with ctx.calls.slots:
            await staged(Stage.LINK, ctx.ipaas.store_link(plan.customer_id, profile_id))
        return
    await staged(Stage.LINK, ctx.ipaas.store_link(plan.customer_id, profile_id))


async def _all(calls: Sequence[Awaitable[None]]) -> None:
    """Run every call even when one fails, then raise the first failure."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
