"""The field diff of design §9: what a write adds, changes, leaves as is, or lets Klaviyo keep."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.model import Change, FieldDiff, draft_of

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
_NESTED = frozenset({"location", "properties"})
_PHONE_NOISE = re.compile(r"[^\d+]")
# Types a profile value usually has that are never empty: checked by identity, before the
# slower abstract-class test for containers.
_SCALARS = frozenset({int, float, bool})


def is_empty(value: Any) -> bool:
    """True for values a partial patch must not send (None, blank text, empty containers)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value or value.isspace()
    if type(value) in _SCALARS:
        return False
    if is_mapping(value) or isinstance(value, list | tuple):
        return len(value) == 0
    return False


def is_mapping(value: Any) -> bool:
    """A JSON object; dicts and text are told apart without the slow abstract-class check."""
    kind = type(value)
    return kind is dict or (kind is not str and isinstance(value, Mapping))


def flatten(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Profile attributes as dotted fields (location.city, properties.X), empties dropped."""
    flat: dict[str, Any] = {}
    if not attributes:
        return flat
    # This runs for every field of both sides of every diff: is_empty's commonest case (text)
    # is answered inline, and dotted names come from a table instead of being formatted.
    for key, value in attributes.items():
        if type(value) is str:
            if key not in _METADATA and value and not value.isspace():
                flat[key] = value
        elif value is None or key in _METADATA:
            # None (organization, title: unset on most profiles) is empty: no is_empty call.
            continue
        elif key in _NESTED and (type(value) is dict or is_mapping(value)):
            names = _DOTTED.get(key)
            if names is None:
                names = _DOTTED[key] = {}
            for sub, item in value.items():
                if type(item) is str:
                    if not item or item.isspace():
                        continue
                elif is_empty(item):
                    continue
                dotted = names.get(sub)
                if dotted is None:
                    dotted = _dotted(names, key, sub)
                flat[dotted] = item
        elif not is_empty(value):
            flat[key] = value
    return flat


# Dotted names by parent key: field names repeat across customers, so each is formatted once.
# Bounded like an LRU would be; it only ever holds names, never a customer's values.
_DOTTED: dict[str, dict[str, str]] = {}
_DOTTED_LIMIT = 4096


def _dotted(names: dict[str, str], key: str, sub: str) -> str:
    if len(names) >= _DOTTED_LIMIT:
        names.clear()
    dotted = names[sub] = f"{key}.{sub}"
    return dotted


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


def _rank_of(name: str) -> int:
    """Where a field sorts: identifiers, names, other attributes, location, properties.

    group * 100 + position within the group: one int compares faster than a pair.
    """
    head, _, tail = name.partition(".")
    for group, canon in ((0, _IDENTIFIERS), (1, _NAMES)):
        if name in canon:
            return group * 100 + canon.index(name)
    if head == "location" and tail:
        return 300 + (_LOCATION.index(tail) if tail in _LOCATION else len(_LOCATION))
    if head == "properties" and tail:
        return 400
    return 200


class _Ranks(dict[str, int]):
    """Ranks by field name, computed on first sight; a plain dict lookup (the sort key) after."""

    def __missing__(self, name: str) -> int:
        if len(self) >= 4096:
            self.clear()
        rank = self[name] = _rank_of(name)
        return rank


_rank = _Ranks().__getitem__


# FieldDiff built as model.fast_init does, inline: its slots set by plain assignment on a draft
# of the same layout, which then becomes a FieldDiff (the frozen __init__, object.__setattr__
# per field, cost more than the comparison itself, a dozen times per customer).
# (_Draft() is object.__new__(_Draft) without that builtin's argument checks: it has no __init__.)
_Draft = draft_of(FieldDiff)
_KEPT, _ADDED, _CHANGED, _UNCHANGED = Change.KEPT, Change.ADDED, Change.CHANGED, Change.UNCHANGED


def field_diff(
    current: Mapping[str, Any] | None, sent: Mapping[str, Any] | None
) -> tuple[FieldDiff, ...]:
    """Compare what a write sends with the profile as it is; current None means a new profile."""
    return diff_flat(flatten(current), flatten(sent))


def dotted_names(key: str) -> dict[str, str]:
    """The table of dotted names under one parent key (sub -> "key.sub"); misses go to dotted."""
    names = _DOTTED.get(key)
    if names is None:
        names = _DOTTED[key] = {}
    return names


def dotted(key: str, sub: Any) -> str:
    """The flattened name of a nested field ("location", "city" -> "location.city")."""
    names = dotted_names(key)
    name = names.get(sub)
    return name if name is not None else _dotted(names, key, sub)


def diff_flat(now: dict[str, Any], out: dict[str, Any]) -> tuple[FieldDiff, ...]:
    """field_diff over sides already flattened (as flatten makes them)."""
    if not now:
        return _all_added(out)
    # The fields' order and which side has each depend on the two sides' names alone, which
    # repeat from customer to customer (the template's fields, the profile's): computed once
    # per pair of name sequences by _order, the plain definition.
    key = (*out, None, *now)
    order = _ORDERS.get(key)
    if order is None:
        order = _order(now, out, key)
    diffs: list[FieldDiff] = []
    append = diffs.append
    # Flattened values are never None (empties are dropped), so a side without the name
    # has None.
    for name, sides in order:
        if sides is _BOTH:
            mapped = out[name]
            was = now[name]
            if was is mapped or was == mapped:
                change = _UNCHANGED
            elif name in _LOOSE:
                change = _UNCHANGED if same_value(name, was, mapped) else _CHANGED
            else:
                # same_value of unequal values is False for every other field.
                change = _CHANGED
        elif sides is _SENT:
            mapped = out[name]
            was = None
            change = _ADDED
        else:
            mapped = None
            was = now[name]
            change = _KEPT
        diff: Any = _Draft()
        diff.field = name
        diff.current = was
        diff.mapped = mapped
        diff.change = change
        diff.__class__ = FieldDiff
        append(diff)
    return tuple(diffs)


# Which side has a field: both, only the sent one, only the current one.
_BOTH, _SENT, _CURRENT = "both", "sent", "current"
Order = tuple[tuple[str, str], ...]
# Orders by the two sides' names (sent names, None, current names); names only, no values.
_ORDERS: dict[tuple[str | None, ...], Order] = {}
_ADDED_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}
_ORDERS_LIMIT = 4096


def _order(now: dict[str, Any], out: dict[str, Any], key: tuple[str | None, ...]) -> Order:
    """Each field of either side, in diff order, with the side(s) that have it."""
    # Sent fields first, then the ones only Klaviyo has; the sort is stable, so within a rank
    # that first-seen order stands.
    names = list(out)
    names += [name for name in now if name not in out]
    names.sort(key=_rank)
    order = tuple(
        (name, _BOTH if name in now else _SENT) if name in out else (name, _CURRENT)
        for name in names
    )
    if len(_ORDERS) >= _ORDERS_LIMIT:
        _ORDERS.clear()
    _ORDERS[key] = order
    return order


# The fields same_value compares more loosely than ==.
_LOOSE = frozenset({"email", "phone_number"})


def _all_added(out: dict[str, Any]) -> tuple[FieldDiff, ...]:
    """diff_flat against a new profile (nothing current): every sent field is added."""
    key = tuple(out)
    names = _ADDED_ORDERS.get(key)
    if names is None:
        names = tuple(sorted(out, key=_rank))
        if len(_ADDED_ORDERS) >= _ORDERS_LIMIT:
            _ADDED_ORDERS.clear()
        _ADDED_ORDERS[key] = names
    diffs: list[FieldDiff] = []
    append = diffs.append
    for name in names:
        diff: Any = _Draft()
        diff.field = name
        diff.current = None
        diff.mapped = out[name]
        diff.change = _ADDED
        diff.__class__ = FieldDiff
        append(diff)
    return tuple(diffs)
