"""The field diff of design §9: what a write adds, changes, leaves as is, or lets Klaviyo keep."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, overload

from core.model import Change, FieldDiff

_IDENTIFIERS = ("email", "phone_number", "external_id")
_NAMES = ("first_name", "last_name", "organization", "title")
_LOCATION = (
    "address1", "address2", "city", "region", "zip", "country",
    "timezone", "ip", "latitude", "longitude",
)
# Read-only bookkeeping Klaviyo returns with a profile: not data a push could send or keep.
METADATA = frozenset(
    {"id", "created", "updated", "last_event_date", "subscriptions", "predictive_analytics"}
)
# Attributes holding objects whose fields are compared one by one (location.city).
NESTED = frozenset({"location", "properties"})
_PHONE_NOISE = re.compile(r"[^\d+]")
# Named once: a union written inside isinstance() is built again on every call.
_SCALARS = (bool, int, float)
_CONTAINERS = (Mapping, list, tuple)


def is_empty(value: Any) -> bool:
    """True for values a partial patch must not send (None, blank text, empty containers)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value or value.isspace()
    # Numbers are never empty, and cheaper to rule out than to test against Mapping.
    if isinstance(value, _SCALARS):
        return False
    if isinstance(value, _CONTAINERS):
        return len(value) == 0
    return False


def flatten(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Profile attributes as dotted fields (location.city, properties.X), empties dropped."""
    flat: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in METADATA or is_empty(value):
            continue
        if key in NESTED and isinstance(value, Mapping):
            for sub, item in value.items():
                if not is_empty(item):
                    flat[f"{key}.{sub}"] = item
        else:
            flat[key] = value
    return flat


def same_value(name: str, current: Any, mapped: Any) -> bool:
    """Klaviyo's notion of equal: emails ignore case, phones ignore formatting, the rest exact."""
    if current is mapped:
        return True
    if isinstance(current, str) and isinstance(mapped, str):
        if current == mapped:
            return True
        if name == "email":
            return current.strip().casefold() == mapped.strip().casefold()
        if name == "phone_number":
            return _PHONE_NOISE.sub("", current) == _PHONE_NOISE.sub("", mapped)
        return False
    return bool(current == mapped)


@lru_cache(maxsize=4096)
def _rank(name: str) -> tuple[int, int]:
    """Where a field sorts: identifiers, names, other attributes, location, properties."""
    head, _, tail = name.partition(".")
    if name in _IDENTIFIERS:
        return 0, _IDENTIFIERS.index(name)
    if name in _NAMES:
        return 1, _NAMES.index(name)
    if head == "location" and tail:
        return 3, _LOCATION.index(tail) if tail in _LOCATION else len(_LOCATION)
    if head == "properties" and tail:
        return 4, 0
    return 2, 0


def field_diff(
    current: Mapping[str, Any] | None, sent: Mapping[str, Any] | None
) -> tuple[FieldDiff, ...]:
    """Compare what a write sends with the profile as it is; current None means a new profile."""
    now, out = flatten(current), flatten(sent)
    # Sent fields first, then the ones only Klaviyo has; the sort is stable, so within a rank
    # that first-seen order stands.
    names = sorted([*out, *(name for name in now if name not in out)], key=_rank)
    return tuple(_field(name, now.get(name), out.get(name)) for name in names)


class LazyFieldDiff(Sequence[FieldDiff]):
    """field_diff(current, sent), worked out when first read: only a screen or a report reads a
    plan's diff, and a bulk sync plans thousands of customers that none of them shows."""

    __slots__ = ("_current", "_items", "_sent")

    def __init__(self, current: Mapping[str, Any] | None, sent: Mapping[str, Any] | None) -> None:
        self._current = current
        self._sent = sent
        self._items: tuple[FieldDiff, ...] | None = None

    def _diffs(self) -> tuple[FieldDiff, ...]:
        if self._items is None:
            self._items = field_diff(self._current, self._sent)
        return self._items

    @overload
    def __getitem__(self, index: int) -> FieldDiff: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[FieldDiff, ...]: ...
    def __getitem__(self, index: int | slice) -> FieldDiff | tuple[FieldDiff, ...]:
        return self._diffs()[index]

    def __len__(self) -> int:
        return len(self._diffs())

    def __iter__(self) -> Iterator[FieldDiff]:
        return iter(self._diffs())

    def __eq__(self, other: object) -> bool:
        # Plans compare field by field: a worked-out diff equals the same items in any sequence.
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._diffs() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._diffs())


def _field(name: str, current: Any, mapped: Any) -> FieldDiff:
    # Flattened values are never None (empties are dropped): None means the side lacks the field.
    if mapped is None:
        change = Change.KEPT
    elif current is None:
        change = Change.ADDED
    elif same_value(name, current, mapped):
        change = Change.UNCHANGED
    else:
        change = Change.CHANGED
    return FieldDiff(field=name, current=current, mapped=mapped, change=change)
