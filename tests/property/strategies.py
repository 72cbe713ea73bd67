"""Shared hypothesis strategies: arbitrary JSON, mutations of valid documents, bounded settings."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

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
