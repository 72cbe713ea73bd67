"""Map 10,000 generated Customers with the default template on one core; print customers/second."""

from __future__ import annotations

import random
import statistics
import sys
import time

from core.mapping import apply, load_template
from core.model import Collection, Customer

COUNTRIES = [
    # (country as written on the address, how its numbers are written nationally)
    ("US", "({a}) {b}-{c}"), ("United States", "{a}.{b}.{c}"), ("USA", "1-{a}-{b}-{c}"),
    ("CA", "{a} {b} {c}"), ("GB", "020 7946 {c}"), ("United Kingdom", "07700 900{d}"),
    ("DE", "030 1234{c}"), ("Deutschland", "0151 2345{c}"), ("FR", "06 12 34 {d2} {d2}"),
    ("France", "01 42 68 {d2} {d2}"), ("AU", "(02) 9374 {c}"), ("NL", "06-1234{c}"),
    ("IT", "333 123 {c}"), ("ES", "612 34 {d2} {d2}"), ("", "{a}-{b}-{c}"),
]
INTERNATIONAL = ["+44 (0)20 7946 {c}", "0049 30 1234{c}", "+1 {a} {b} {c}", "+33 6 12 34 {d2} {d2}"]
MESSY = ["N/A", "", "123", "{a}-{b}-{c} x{d}", "{a}{b}{c}{c}{c}", "call me", "({a}) {b}-{c} ext. 5"]
FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farah", "Günter", "Hana", "Ivan", "Jo"]
LAST = ["Lee", "Smith", "Müller", "Dubois", "García", "Rossi", "Nguyen", "O'Brien", "Kowalski"]


def _number(rng: random.Random, template: str) -> str:
    return template.format(
        a=rng.randint(201, 989), b=rng.randint(200, 999), c=f"{rng.randint(0, 9999):04d}",
        d=f"{rng.randint(0, 999):03d}", d2=f"{rng.randint(0, 99):02d}",
    )


def generate(count: int, seed: int = 7) -> list[Customer]:
    """Varied Customers as iPaaS.com JSON: countries, messy numbers, missing fields, addresses."""
    rng = random.Random(seed)
    customers = []
    for index in range(count):
        country, national = rng.choice(COUNTRIES)
        roll = rng.random()
        pattern = national if roll < 0.75 else rng.choice(INTERNATIONAL if roll < 0.9 else MESSY)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        addresses = []
        for position in range(rng.choice([0, 1, 1, 1, 2, 3])):
            addresses.append({
                "first_name": first, "last_name": last,
                "address_1": f"{rng.randint(1, 999)} Main Street",
                "address_2": rng.choice([None, "", f"Suite {rng.randint(1, 99)}"]),
                "city": rng.choice(["Springfield", "London", "Berlin", "Paris", "Sydney"]),
                "region": rng.choice(["IL", "", "BE", None]),
                "postal_code": f"{rng.randint(10000, 99999)}",
                "country": country or None,
                "is_primary_billing": position == len(addresses) - 1 or rng.random() < 0.3,
            })
        raw = {
            "id": 50000 + index,
            "customer_number": _number(rng, pattern),
            "first_name": first, "last_name": last,
            "email_address": (
                None if rng.random() < 0.1 else f"{first}.{last}{index}@example.com".lower()
            ),
            "company": rng.choice([None, "Acme", "Globex", "Initech"]),
            "addresses": addresses,
            "custom_fields": [
                {"custom_field_name": "Newsletter", "value": rng.choice(["true", "false"])}
            ],
        }
        customers.append(Customer.from_api(raw))
    return customers


def main(count: int = 10_000, repeats: int = 5) -> None:
    customers = generate(count)
    template = load_template()
    rates = []
    cpu_rates = []
    # Each run maps Customers it has never seen (its own seed): a real batch does not repeat
    # phone numbers, so the per-number normalization cache must not answer for a repeat run.
    # (10,000 generated numbers hold only ~8,100 distinct ones, which the cache did hold.)
    # The first set, mapped untimed, compiles each region's phone metadata once.
    for customer in customers:
        apply(customer, template, Collection.ADD)
    for run in range(repeats):
        fresh = generate(count, seed=100 + run)
        started = time.perf_counter()
        cpu_started = time.process_time()
        for index, customer in enumerate(fresh):
            apply(customer, template, Collection.UPDATE if index % 2 else Collection.ADD,
                  link="01JLINK" if index % 2 else None)
        rates.append(count / (time.perf_counter() - started))
        cpu_rates.append(count / (time.process_time() - cpu_started))
    mapped = [apply(c, template, Collection.ADD) for c in customers]
    print(f"mapping: {count} customers, default template, {repeats} runs")
    print(f"  customers/second: median {statistics.median(rates):,.0f}, best {max(rates):,.0f}")
    # CPU time is the steadier figure on a shared machine (other processes inflate wall time).
    print(f"  customers/CPU-second: median {statistics.median(cpu_rates):,.0f}, "
          f"best {max(cpu_rates):,.0f}")
    print(f"  with phone: {sum('phone_number' in m.attributes for m in mapped)}, "
          f"phone invalid: {sum(m.phone_valid is False for m in mapped)}, "
          f"warnings: {sum(bool(m.warnings) for m in mapped)}, "
          f"blocked (errors): {sum(bool(m.errors) for m in mapped)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
