"""The field diff of design §9: what a write adds, changes, leaves as is, or lets Klaviyo keep."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.model import Change, FieldDiff

_IDENTIFIERS = ("email", "phone_number", "external_id")
_NAMES = ("first_name", "last_name", "organization", "title")
_LOCATION = (
    "address1", "address2", "city", "region", "zip", "country",
    "timezone", "ip", "latitude", "longitude",
)
# Read-only bookkeeping Klaviyo returns with a profile: not data a push could send or keep.
_METADATA = frozenset(
    {"id", "created", "updated", "last_event_date", "subscriptions", "predictive_analytics"}
)
_NESTED = ("location", "properties")
_PHONE_NOISE = re.compile(r"[^\d+]")


def is_empty(value: Any) -> bool:
    """True for values a partial patch must not send (None, blank text, empty containers)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping | list | tuple):
        return len(value) == 0
    return False


def flatten(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Profile attributes as dotted fields (location.city, properties.X), empties dropped."""
    flat: dict[str, Any] = {}
    if not attributes:
        return flat
    for key, value in attributes.items():
        if key in _METADATA:
            continue
        if key in _NESTED and isinstance(value, Mapping):
            for sub, item in value.items():
                if not is_empty(item):
                    flat[f"{key}.{sub}"] = item
        elif not is_empty(value):
            flat[key] = value
    return flat


def same_value(name: str, current: Any, mapped: Any) -> bool:
    """Klaviyo's notion of equal: emails ignore case, phones ignore formatting, the rest exact."""
    if isinstance(current, str) and isinstance(mapped, str):
        if name == "email":
            return current.strip().casefold() == mapped.strip().casefold()
        if name == "phone_number":
            return _PHONE_NOISE.sub("", current) == _PHONE_NOISE.sub("", mapped)
    return bool(current == mapped)


def _rank(name: str, seen: int) -> tuple[int, int, int]:
    head, _, tail = name.partition(".")
    for group, canon in ((0, _IDENTIFIERS), (1, _NAMES)):
        if name in canon:
            return (group, canon.index(name), seen)
    if head == "location" and tail:
        return (3, _LOCATION.index(tail) if tail in _LOCATION else len(_LOCATION), seen)
    if head == "properties" and tail:
        return (4, 0, seen)
    return (2, 0, seen)


def field_diff(
    current: Mapping[str, Any] | None, sent: Mapping[str, Any] | None
) -> tuple[FieldDiff, ...]:
    """Compare what a write sends with the profile as it is; current None means a new profile."""
    now = flatten(current)
    out = flatten(sent)
    order: dict[str, int] = {}
    for name in _chain(out, now):
        order.setdefault(name, len(order))
    diffs = []
    for name in sorted(order, key=lambda n: _rank(n, order[n])):
        if name in out:
            mapped = out[name]
            if name not in now:
                change = Change.ADDED
            elif same_value(name, now[name], mapped):
                change = Change.UNCHANGED
            else:
                change = Change.CHANGED
            diffs.append(FieldDiff(name, now.get(name), mapped, change))
        else:
            diffs.append(FieldDiff(name, now[name], None, Change.KEPT))
    return tuple(diffs)


def _chain(*names: Iterable[str]) -> Iterable[str]:
    for group in names:
        yield from group
