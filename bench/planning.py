"""Figure 4: customers planned (mapped, normalized, diffed) per CPU-second on one core.

Run: .venv/bin/python bench/planning.py [--customers 10000] [--repeats 5]
Each generated Customer (bench/mapping.py's varied countries and messy numbers) is mapped
with both collections of the default template, phone-normalized, routed against a current
profile (a third linked, a third matched by email, a third new) and diffed: the pure part of
a push, the same calls the engine makes. Target: at least 20,000 customers per CPU-second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mapping import generate

from core.mapping import apply, load_template
from core.model import Collection, ConsentState, KlaviyoList, OptIn, Profile, Subscriptions
from core.plan import PlanSettings, Resolution, plan_from_mapped

LISTS = {"Sms Subscribers": KlaviyoList("L1", "Sms Subscribers", OptIn.SINGLE),
         "Preview List": KlaviyoList("L2", "Preview List", OptIn.SINGLE)}


def current(index: int) -> Profile:
    return Profile(id=f"01J{index:023d}", attributes={
        "email": f"old{index}@example.com", "first_name": "Old", "last_name": "Name",
        "location": {"city": "Springfield", "country": "US"}, "properties": {"tier": "gold"}},
        subscriptions=Subscriptions(email=ConsentState.SUBSCRIBED), list_ids=frozenset({"L2"}))


def main(count: int, repeats: int) -> None:
    customers = generate(count)
    template = load_template()
    settings = PlanSettings()
    on_match = template.on_match(Collection.ADD)
    profiles = [current(i) for i in range(count)]
    rates = []
    for _ in range(repeats):
        started = time.process_time()
        for index, customer in enumerate(customers):
            kind = index % 3
            link = profiles[index].id if kind == 0 else None
            add = apply(customer, template, Collection.ADD, link=None)
            update = apply(customer, template, Collection.UPDATE, link=link)
            resolution = Resolution(
                link=link, linked_profile=profiles[index] if kind == 0 else None,
                email_match=profiles[index] if kind == 1 else None, phone_match=None,
                lists=LISTS)
            plan_from_mapped(add, update, resolution, settings, on_match=on_match)
        rates.append(count / (time.process_time() - started))
    print(f"planning: {count} customers, default template, both collections, {repeats} runs")
    print(f"  customers/CPU-second: median {statistics.median(rates):,.0f}, "
          f"best {max(rates):,.0f} (target >= 20,000)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    main(args.customers, args.repeats)
