"""The impact report's reads: every chosen customer planned with a batch's shared reads, for one
template or two, with nothing written anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace

from core.clients.http import ApiError
from core.engine import flow
from core.engine.batch import (
    DEFAULT_WORKERS,
    BatchProgress,
    Item,
    customers_source,
    ids_source,
    run_batch,
)
from core.engine.context import Context, CustomerNotFound, PushResult, StageFailure
from core.engine.list_cache import ListCache
from core.engine.lookups import SharedLookups
from core.engine.shared import BatchCalls
from core.mapping import Template
from core.model import JSON, Customer, CustomerDataError, ErrorKind, Plan, Route
from core.plan.report import Report, differing


@dataclass
class ImpactReport:
    """The counts for the template (and the compared one), and every plan by customer id."""

    report: Report
    plans: dict[str, Plan] = field(default_factory=dict)
    compared: Report | None = None
    compared_plans: dict[str, Plan] = field(default_factory=dict)

    @property
    def differing(self) -> list[str]:
        return differing(self.plans, self.compared_plans) if self.compared else []

    def to_json(self) -> JSON:
        body = self.report.to_json()
        if self.compared is not None:
            return {"template": body, "compare": self.compared.to_json(),
                    "differing": self.differing}
        return body


def read_only(ctx: Context, template: Template | None = None) -> tuple[Context, SharedLookups]:
    """A context for plans only, with a batch's shared reads and a list cache never saved."""
    planning = replace(ctx, template=template or ctx.template, lists=ListCache(None),
                       calls=BatchCalls(ctx.klaviyo))
    assert planning.calls is not None
    return planning, SharedLookups(planning, planning.calls)


async def plan_only(reader: tuple[Context, SharedLookups], customer_id: str,
                    customer: Customer | None) -> Plan:
    """The preview of one customer from the shared reads; one that cannot be planned is a
    blocked plan saying why."""
    ctx, lookups = reader
    try:
        gathered = await lookups.gather(customer_id, customer)
        return gathered.plan(ctx.template, ctx.settings)
    except CustomerNotFound as exc:
        return _blocked(customer_id, str(exc), ErrorKind.NOT_FOUND)
    except CustomerDataError as exc:
        return _blocked(customer_id, str(exc), ErrorKind.VALIDATION)
    except StageFailure as failure:
        return _blocked(customer_id, str(failure.error), failure.error.kind)


def _blocked(customer_id: str, why: str, kind: ErrorKind) -> Plan:
    return Plan(customer_id=customer_id, route=Route.BLOCKED, reason=why, errors=(why,),
                error_kind=kind)


async def impact(ctx: Context, ids: Iterable[str] | None, *, template: Template | None = None,
                 compare: Template | None = None,
                 on_progress: Callable[[BatchProgress], None] | None = None,
                 cancel: asyncio.Event | None = None,
                 workers: int = DEFAULT_WORKERS) -> ImpactReport:
    """Plan every chosen customer (None: all) under `template` (default the current one) and
    `compare`; the customer is read once and planned under both."""
    if ids is None:
        items: AsyncIterator[Item] = customers_source(ctx.ipaas.iter_customers())
        total: int | None = None
    else:
        wanted = flow.customers_of(ids)
        items, total = ids_source(wanted), len(wanted)
    main_ctx = read_only(ctx, template)
    other_ctx = read_only(ctx, compare) if compare is not None else None
    result = ImpactReport(Report(), compared=Report() if compare is not None else None)

    async def plan_one(customer_id: str, customer: Customer | None) -> PushResult:
        if customer is None and other_ctx is not None:
            unread: Plan | None = None
            try:
                customer = await ctx.ipaas.get_customer(customer_id)  # read once for both
            except ApiError as exc:
                unread = _blocked(customer_id, str(exc), exc.kind)
            if customer is None and unread is None:
                unread = _blocked(customer_id, str(CustomerNotFound(customer_id)),
                                  ErrorKind.NOT_FOUND)
            if unread is not None:
                _keep(result, unread, unread)
                return PushResult(plan=unread, ok=False)
        plan = await plan_only(main_ctx, customer_id, customer)
        other = await plan_only(other_ctx, customer_id, customer) if other_ctx else None
        _keep(result, plan, other)
        return PushResult(plan=plan, ok=not plan.blocked)

    await run_batch(items, plan_one, BatchProgress(total=total), workers=workers,
                    on_progress=on_progress, cancel=cancel)
    return result


def _keep(result: ImpactReport, plan: Plan, other: Plan | None) -> None:
    result.plans[plan.customer_id] = plan
    result.report.add(plan)
    if other is not None and result.compared is not None:
        result.compared_plans[other.customer_id] = other
        result.compared.add(other)
