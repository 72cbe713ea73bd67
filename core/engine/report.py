"""The impact report's reads: every chosen customer planned with a batch's shared reads, for one
template or two, with nothing written anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace

from core.clients.http import ApiError
from core.clients.klaviyo import PAGE_MAX
from core.engine import flow
from core.engine.batch import (
    READ_WORKERS,
    BatchProgress,
    Item,
    Page,
    customers_source,
    ids_source,
    run_pages,
)
from core.engine.context import Context, CustomerNotFound, PushResult, StageFailure
from core.engine.list_cache import ListCache
from core.engine.lookups import SharedLookups, Unread
from core.engine.shared import BatchCalls
from core.mapping import Template
from core.model import JSON, CustomerDataError, ErrorKind, Plan, Route
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
    """A context for plans only, with a batch's shared reads (each filled to 100 identifiers:
    no write waits on them) and a list cache never saved."""
    planning = replace(ctx, template=template or ctx.template, lists=ListCache(None),
                       calls=BatchCalls(ctx.klaviyo, fill=True))
    assert planning.calls is not None
    return planning, SharedLookups(planning, planning.calls)


async def plan_only(reader: tuple[Context, SharedLookups], page: Page) -> list[Plan]:
    """The preview of each customer of the page from the shared reads; one that cannot be
    planned is a blocked plan saying why."""
    ctx, lookups = reader
    plans = []
    for (customer_id, _), gathered in zip(page, await lookups.gather_page(page), strict=True):
        try:
            if isinstance(gathered, Unread):
                raise gathered.error
            plans.append(gathered.plan(ctx.template, ctx.settings))
        except CustomerNotFound as exc:
            plans.append(_blocked(customer_id, str(exc), ErrorKind.NOT_FOUND))
        except CustomerDataError as exc:
            plans.append(_blocked(customer_id, str(exc), ErrorKind.VALIDATION))
        except StageFailure as failure:
            plans.append(_blocked(customer_id, str(failure.error), failure.error.kind))
    return plans


def _blocked(customer_id: str, why: str, kind: ErrorKind) -> Plan:
    return Plan(customer_id=customer_id, route=Route.BLOCKED, reason=why, errors=(why,),
                error_kind=kind)


async def impact(ctx: Context, ids: Iterable[str] | None, *, template: Template | None = None,
                 compare: Template | None = None,
                 on_progress: Callable[[BatchProgress], None] | None = None,
                 cancel: asyncio.Event | None = None,
                 workers: int = READ_WORKERS) -> ImpactReport:
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

    async def plan_page(page: Page) -> list[PushResult]:
        unread: list[Plan] = []
        if other_ctx is not None:
            page, unread = await _read_once(ctx, page)
        for plan in unread:
            _keep(result, plan, plan)
        plans = await plan_only(main_ctx, page)
        others = await plan_only(other_ctx, page) if other_ctx else [None] * len(plans)
        for plan, other in zip(plans, others, strict=True):
            _keep(result, plan, other)
        return [PushResult(plan=plan, ok=not plan.blocked) for plan in (*unread, *plans)]

    await run_pages(items, plan_page, BatchProgress(total=total), page=PAGE_MAX,
                    customers=workers, on_progress=on_progress, cancel=cancel)
    return result


async def _read_once(ctx: Context, page: Page) -> tuple[Page, list[Plan]]:
    """The page with every customer read (once, for both templates), and the blocked plans of
    those that could not be."""
    wanted = [customer_id for customer_id, customer in page if customer is None]
    got = await asyncio.gather(*(ctx.ipaas.get_customer(customer_id) for customer_id in wanted),
                               return_exceptions=True)
    read = dict(zip(wanted, got, strict=True))
    kept: Page = []
    unread: list[Plan] = []
    for customer_id, customer in page:
        found = read.get(customer_id, customer)
        if isinstance(found, ApiError):
            unread.append(_blocked(customer_id, str(found), found.kind))
        elif isinstance(found, BaseException):
            raise found
        elif found is None:
            unread.append(_blocked(customer_id, str(CustomerNotFound(customer_id)),
                                   ErrorKind.NOT_FOUND))
        else:
            kept.append((customer_id, found))
    return kept, unread


def _keep(result: ImpactReport, plan: Plan, other: Plan | None) -> None:
    result.plans[plan.customer_id] = plan
    result.report.add(plan)
    if other is not None and result.compared is not None:
        result.compared_plans[other.customer_id] = other
        result.compared.add(other)
