"""Shared hypothesis strategies: arbitrary JSON, mutations of valid documents, bounded settings."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from core.model import Address, Customer, CustomField

# Deterministic and bounded, so CI runs the same examples every time in a few seconds.
BOUNDED = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = settings(BOUNDED, max_examples=60)

# Text a malicious or careless sender might put anywhere: control characters, quotes,
# lone surrogates, non-Latin digits, very long runs.
awkward_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from([
        "", " ", "\x00", "null", "None", "NaN", "true", "1e309", "-0", "０１２", "²",
        "٣٤٥", "\ud800", "<html>", '"', "\\", "'; DROP", "a" * 300, "DELETED:", "%00",
    ]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    awkward_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(awkward_text, inner, max_size=4),
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a JSON document (the root included)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any, rounds: int = 3) -> Any:
    """A valid document with up to `rounds` nodes replaced, deleted or given a stray key."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=1, max_value=rounds))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "extra", "wrap"]))
        if not path:
            if action == "replace":
                doc = draw(json_values)
            elif action == "wrap":
                doc = [doc]
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "delete":
            del parent[last]
        elif action == "wrap":
            parent[last] = [parent[last]]
        elif isinstance(parent[last], dict):
            parent[last][draw(awkward_text)] = draw(json_values)
        else:
            parent[last] = draw(json_values)
    return doc


# An iPaaS.com Customer as the API serves it.
VALID: dict[str, Any] = {
    "id": 55260,
    "customer_number": "555-867-5309",
    "first_name": "Ann",
    "last_name": "Lee",
    "email_address": "ann@example.com",
    "company": "Lee Co",
    "comment": None,
    "addresses": [
        {"first_name": "Ann", "address_1": "1 Main St", "city": "Boise", "region": "ID",
         "country": "US", "postal_code": "83702", "is_primary_billing": True,
         "is_primary_shipping": False},
    ],
    "custom_fields": [{"custom_field_name": "SubscribeProfile", "value": "true"}],
    "external_ids": [{"system_id": 123, "external_id": "01HPROFILE", "internal_id": "55260"}],
}

phone_like = st.one_of(
    awkward_text,
    st.from_regex(r"\A\+?[0-9 ()\-.]{0,18}(x[0-9]{1,4})?\Z"),
)
addresses = st.builds(
    Address,
    first_name=awkward_text, city=awkward_text, region=awkward_text, postal_code=awkward_text,
    address_1=awkward_text, phone_number=phone_like,
    country=st.one_of(st.none(), st.sampled_from(["US", "GB", "Germany", "AQ", "Antarctica",
                                                  "Narnia", "", "usa"]), awkward_text),
    is_primary_billing=st.booleans(), is_primary_shipping=st.booleans(),
)
custom_fields = st.builds(
    CustomField,
    name=st.sampled_from(["SubscribeProfile", "Newsletter", "VIP", "LIST_Newsletter"]),
    value=st.one_of(st.none(), st.sampled_from(["true", "FALSE", " true ", "yes", ""]),
                    awkward_text),
)
customers = st.builds(
    Customer,
    id=st.one_of(st.integers(min_value=1, max_value=10**9).map(str), st.just("C-1")),
    customer_number=phone_like,
    first_name=awkward_text, last_name=awkward_text,
    email_address=st.one_of(st.just("ann@example.com"), awkward_text),
    company=awkward_text, comment=awkward_text,
    addresses=st.lists(addresses, max_size=3).map(tuple),
    custom_fields=st.lists(custom_fields, max_size=3).map(tuple),
)
