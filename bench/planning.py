"""Figure 4: customers planned (mapped, normalized, diffed) per CPU-second on one core.

Run: .venv/bin/python bench/planning.py [--customers 10000] [--repeats 5]

The pure part of a push, as `plan_customer` does it in every mode: each generated Customer
(bench/mapping.py's varied countries and messy numbers) is mapped through the one collection
its route needs (phone normalized on the way), routed by the design §4 table against the facts
the lookups gathered (list membership and consent emails sent included), diffed against the
current profile and judged by the consent policy. The mix of routes: a third linked (Update),
a third matched by email (Link), a third new (Create); the current profiles are the customers'
own, partly out of date.

Every timed run plans customers it has never seen (its own generated set): a real batch does
not repeat phone numbers, so the per-number normalization cache must not answer for a repeat.
The first set is planned untimed, which compiles each region's phone metadata once, as a
long-running process has.

Printed per component (CPU microseconds per customer, median and best of the runs: the box is
shared, and contention only ever adds time): mapping, planning
(routing, consent, lists, the guard and the diff), the diff alone, and the whole
`plan_customer`; and, for comparison, both collections mapped before `plan_mapped` (the engine
until it mapped only what the route needs).
Budget: at least 5,000 customers per CPU-second (Klaviyo's bulk ceiling is ~1,900/s).

Last, the bulk re-sync's share of issue 14 item 6 (`bench/bulk.py --cli --linked 1.0`): its
customers (bench/common.py: a US number, a billing address) linked to profiles as the served
sandbox reads them (first name out of date, subscribed, on both lists), taken the engine's way:
`map_customer`, the identifiers the reads ask by, then `Gathered.plan`; with that line's phone
normalization alone beside it.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import customer_json
from mapping import generate

from core.engine.context import Context
from core.engine.lookups import Gathered
from core.engine.planning import map_customer
from core.mapping import Template, apply, load_template
from core.model import (
    Collection,
    ConsentState,
    Customer,
    KlaviyoList,
    MappedProfile,
    OptIn,
    Profile,
    Subscriptions,
)
from core.phone import normalize_phone
from core.plan import (
    Facts,
    PlanSettings,
    field_diff,
    payload_attributes,
    plan_customer,
    plan_mapped,
)
from core.sandbox.klaviyo.resources import profile_attributes

LISTS = {"Sms Subscribers": KlaviyoList("L1", "Sms Subscribers", OptIn.SINGLE),
         "Preview List": KlaviyoList("L2", "Preview List", OptIn.SINGLE)}


def current(index: int, customer: Customer) -> Profile:
    """The customer's profile as Klaviyo holds it: same email, some fields out of date."""
    billing = customer.primary_billing
    return Profile(id=f"01J{index:023d}", attributes={
        "email": customer.email_address, "first_name": customer.first_name,
        "last_name": "Old" if index % 2 else customer.last_name,
        "external_id": customer.id, "organization": None, "title": None,
        "location": {"city": billing.city if billing else "Springfield", "country": "US",
                     "timezone": "America/Chicago"},
        "properties": {"tier": "gold", "$source": "API"},
        "created": "2024-01-01T00:00:00+00:00", "updated": "2025-01-01T00:00:00+00:00"},
        subscriptions=Subscriptions(email=ConsentState.SUBSCRIBED))


NOW = "2026-12-07T12:00:00+00:00"


def gathered(customers: Sequence[Customer]) -> list[Facts]:
    """What the lookups found, by thirds: linked, matched by email, nothing (new); every
    profile is in the Preview List, and every tenth was sent a consent email last week."""
    found = []
    for index, customer in enumerate(customers):
        kind = index % 3
        profile = current(index, customer)
        sent = {(profile.id, ""): "2026-12-01T10:00:00+00:00"} if index % 10 == 0 else {}
        found.append(Facts(
            customer=customer,
            link=profile.id if kind == 0 else None,
            linked_profile=profile if kind == 0 else None,
            email_match=profile if kind == 1 else None,
            phone_match=None,
            lists=LISTS,
            memberships={"L1": frozenset(), "L2": frozenset({profile.id})},
            consent_emails=sent, now=NOW))
    return found


Batch = tuple[list[Customer], list[Facts]]


def batch(count: int, seed: int) -> Batch:
    customers = generate(count, seed=seed)
    return customers, gathered(customers)


def bulk_batch(count: int, start: int) -> Batch:
    """The bulk bench's customers from `start` on (numbers unseen by any other batch), each
    linked to its profile as the served sandbox's read returns it."""
    customers, found = [], []
    for index in range(start, start + count):
        raw = customer_json(index)
        customer = Customer.from_api(raw)
        stored = {"attributes": {"email": raw["email_address"], "first_name": "Old",
                                 "last_name": raw["last_name"], "external_id": str(raw["id"])},
                  "created": "2026-01-01T00:00:00+00:00",
                  "updated": "2026-01-01T00:00:00+00:00"}
        profile = Profile(id=f"01P{index:023d}", attributes=profile_attributes(
            stored, with_subscriptions=False, with_predictive=False),
            subscriptions=Subscriptions(email=ConsentState.SUBSCRIBED))
        customers.append(customer)
        # A linked profile holding the customer's email is its email match (core/engine/lookups).
        found.append(Facts(
            customer=customer, link=profile.id, linked_profile=profile, email_match=profile,
            phone_match=None, lists=LISTS,
            memberships={"L1": frozenset({profile.id}), "L2": frozenset({profile.id})},
            consent_emails={}, now=NOW))
    return customers, found


def mapped_for_route(customers: Sequence[Customer], found: Sequence[Facts],
                     template: Template) -> list[MappedProfile]:
    out = []
    for customer, facts in zip(customers, found, strict=True):
        collection = Collection.UPDATE if facts.linked else Collection.ADD
        link = facts.link if collection is Collection.UPDATE else None
        out.append(apply(customer, template, collection, link=link))
    return out


def cpu_us(run: Callable[[Batch], object], batches: Sequence[Batch]) -> tuple[float, float]:
    """Median and best CPU microseconds per customer over one run per batch."""
    per_customer = []
    for item in batches:
        started = time.process_time()
        run(item)
        per_customer.append((time.process_time() - started) / len(item[0]) * 1e6)
    return statistics.median(per_customer), min(per_customer)


def main(count: int, repeats: int) -> None:
    template = load_template()
    settings = PlanSettings()
    on_match = template.on_match(Collection.ADD)
    warm, *batches = [batch(count, seed) for seed in range(7, 8 + repeats)]

    def whole(item: Batch) -> None:
        for facts in item[1]:
            plan_customer(facts, template, settings)

    def mapping(item: Batch) -> None:
        mapped_for_route(item[0], item[1], template)

    # Planning and the diff run on inputs prepared outside the timer (mapped profiles and
    # payloads of the same batch), so each figure is that step alone.
    prepared = {id(item): mapped_for_route(item[0], item[1], template) for item in batches}

    def planning(item: Batch) -> None:
        for mapped, facts in zip(prepared[id(item)], item[1], strict=True):
            if facts.linked:
                plan_mapped(facts, None, mapped, settings)
            else:
                plan_mapped(facts, mapped, None, settings, on_match)

    payloads = {id(item): [payload_attributes(m) for m in prepared[id(item)]]
                for item in batches}

    def diffing(item: Batch) -> None:
        for payload, facts in zip(payloads[id(item)], item[1], strict=True):
            target = facts.linked_profile or facts.email_match
            field_diff(target.attributes if target else None, payload)

    def both_collections(item: Batch) -> None:
        for customer, facts in zip(*item, strict=True):
            add = apply(customer, template, Collection.ADD, link=None)
            update = apply(customer, template, Collection.UPDATE, link=facts.link)
            plan_mapped(facts, add, update, settings, on_match)

    engine = cast(Context, SimpleNamespace(template=template, settings=settings))
    # Each batch its own range of the bulk bench's customers, so no number repeats: the phone
    # line has batches of its own, as the engine path has normalized the others' numbers.
    bulk_warm, *bulk_batches = [bulk_batch(count, 1_000 + run * count)
                                for run in range(repeats + 1)]
    phone_batches = [bulk_batch(count, 1_000 + (repeats + 1 + run) * count)
                     for run in range(repeats)]

    def bulk_engine_path(item: Batch) -> None:
        for customer, facts in zip(*item, strict=True):
            mapped = map_customer(engine, customer, facts.link)
            mapped.identifiers  # noqa: B018 - the reads ask by them
            Gathered(facts, mapped).plan(template, settings)

    def bulk_phones(item: Batch) -> None:
        for customer in item[0]:
            normalize_phone(customer.customer_number, country="US")

    whole(warm)
    bulk_engine_path(bulk_warm)
    # The fixtures (every batch, profile and prepared input) stay alive for the whole run;
    # frozen, the collector stops re-scanning them, so the figures are the planning's own.
    gc.collect()
    gc.freeze()
    routes = Counter(plan_customer(facts, template, settings).route.value for facts in warm[1])
    figures = {
        "mapping (one collection)": cpu_us(mapping, batches),
        "plan (route, consent, guard)": cpu_us(planning, batches),
        "  of which the diff": cpu_us(diffing, batches),
        "plan_customer (the figure)": cpu_us(whole, batches),
        "both collections mapped": cpu_us(both_collections, batches),
        "bulk re-sync, engine path": cpu_us(bulk_engine_path, bulk_batches),
        "  of which the phone": cpu_us(bulk_phones, phone_batches),
    }
    print(f"planning: {count} customers per run, default template, {repeats} runs, "
          f"routes {dict(sorted(routes.items()))}")
    print(f"  {'CPU us/customer':<31} {'median':>7} {'best':>7}  customers/CPU-second (median)")
    for name, (median, best) in figures.items():
        print(f"  {name:<31} {median:7.1f} {best:7.1f}  {1e6 / median:9,.0f}")
    median, best = figures["plan_customer (the figure)"]
    print(f"  figure 4: {1e6 / median:,.0f} customers/CPU-second, best run {1e6 / best:,.0f} "
          "(budget >= 5,000)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    main(args.customers, args.repeats)
