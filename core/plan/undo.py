"""The reverse of one push, planned from its history entry and the profile as it is now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.model import (
    JSON,
    Change,
    Channel,
    ConsentAction,
    ConsentChange,
    FieldDiff,
    Guard,
    GuardKind,
    GuardReason,
    HistoryEntry,
    ListAction,
    ListChange,
    Plan,
    Profile,
    Route,
)
from core.plan.diff import flatten, same_value

# Klaviyo refuses a profile with none of these, so undo of a create keeps them.
IDENTIFIERS = ("email", "phone_number", "external_id")


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field changed in Klaviyo since the push: undo leaves it alone."""

    field: str
    live: Any
    pushed: Any
    before: Any

    def to_json(self) -> JSON:
        return {"field": self.field, "live": self.live, "pushed": self.pushed,
                "before": self.before}

    def text(self) -> str:
        return (f"{self.field} changed in Klaviyo since the push: it is {self.live!r}, the push "
                f"left {self.pushed!r}; left alone (before the push: {self.before!r})")


@dataclass(frozen=True, slots=True)
class ConsentDone:
    """A consent operation the push made, and how an operator reverses it."""

    channel: str
    action: str
    list_name: str | None
    reverse: str

    def to_json(self) -> JSON:
        return {"channel": self.channel, "action": self.action, "list": self.list_name,
                "reverse": self.reverse}


@dataclass(frozen=True, slots=True)
class UndoPlan:
    """What undoing one push does: a patch plan (route update) plus what it cannot undo."""

    history_id: str
    plan: Plan
    unset_properties: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    consent_done: tuple[ConsentDone, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def attributes(self) -> JSON:
        """The attributes the undo patch sends (null clears)."""
        data = (self.plan.payload or {}).get("data") or {}
        return dict(data.get("attributes") or {})

    @property
    def has_work(self) -> bool:
        return bool(self.attributes or self.unset_properties or self.plan.lists
                    or self.plan.consent)

    def to_json(self) -> JSON:
        body = self.plan.to_json()
        body["history_id"] = self.history_id
        body["unset_properties"] = list(self.unset_properties)
        body["conflicts"] = [c.to_json() for c in self.conflicts]
        body["consent_done"] = [c.to_json() for c in self.consent_done]
        body["notes"] = list(self.notes)
        return body


def plan_undo(entry: HistoryEntry, live: Profile | None, *,
              list_ids: Mapping[str, str | None] | None = None,
              reverse_consent: bool = False) -> UndoPlan:
    """The reverse of `entry`'s push against `live` (None: the profile is gone from Klaviyo).

    `list_ids` gives the id of each list the push added to (None: the list no longer exists);
    `reverse_consent` adds the consent reversals to the plan, each one under the consent guard.
    """
    reason = _reason(entry)
    nothing = _nothing_to_undo(entry, live)
    if nothing is not None:
        return blocked_undo(entry, nothing, live)
    assert live is not None and entry.profile_id is not None
    before, after, now = flatten(entry.before), flatten(entry.after), flatten(live.attributes)
    created = entry.route is Route.CREATE or entry.before is None
    attributes: dict[str, Any] = {}
    unset: list[str] = []
    diff: list[FieldDiff] = []
    conflicts: list[Conflict] = []
    notes: list[str] = []
    kept: list[str] = []
    for name in sorted({*before, *after}):
        old, pushed, current = before.get(name), after.get(name), now.get(name)
        if _same(name, old, pushed):
            continue  # the push did not change it
        if _same(name, current, old):
            continue  # already back as it was (an earlier undo, or changed back by hand)
        if not _same(name, current, pushed):
            conflicts.append(Conflict(name, current, pushed, old))
            continue
        if created and old is None and name in IDENTIFIERS:
            kept.append(name)
            continue
        if old is None and name.startswith("properties."):
            unset.append(name.partition(".")[2])
        else:
            _put(attributes, name, old)
        diff.append(FieldDiff(field=name, current=current, mapped=old,
                              change=Change.CHANGED if old is not None else Change.ADDED))
    if created:
        notes.append(f"profile {entry.profile_id} was created by this push and is kept (the "
                     "product never deletes a profile); undo clears what it can"
                     + (f" and keeps its {', '.join(kept)}" if kept else ""))
    if entry.route in (Route.CREATE, Route.LINK):
        notes.append(f"the customer's link to profile {entry.profile_id} in iPaaS.com stays "
                     "(undo writes only to Klaviyo)")
    lists = _list_removals(entry, live, list_ids or {}, notes)
    done = tuple(_consent_done(raw) for raw in entry.consent)
    consent = (tuple(_reversal(raw, live, list_ids or {}) for raw in entry.consent)
               if reverse_consent else ())
    if done and not reverse_consent:
        notes.append("consent is never reversed automatically: see consent_done for how")
    payload: JSON | None = None
    if attributes or unset:
        data: JSON = {"type": "profile", "id": entry.profile_id, "attributes": attributes}
        if unset:
            data["meta"] = {"patch_properties": {"unset": list(unset)}}
        payload = {"data": data}
    plan = Plan(
        customer_id=entry.customer_id, route=Route.UPDATE, reason=reason,
        profile_id=entry.profile_id, payload=payload, current=live.attributes,
        diff=tuple(diff), consent=consent, lists=lists, guard=_guard(consent),
        warnings=tuple(c.text() for c in conflicts) + tuple(notes),
    )
    return UndoPlan(history_id=entry.id, plan=plan, unset_properties=tuple(unset),
                    conflicts=tuple(conflicts), consent_done=done, notes=tuple(notes))


def blocked_undo(entry: HistoryEntry, why: str, live: Profile | None = None) -> UndoPlan:
    """An undo that cannot run, saying why."""
    blocked = Plan(customer_id=entry.customer_id, route=Route.BLOCKED,
                   reason=f"{_reason(entry)}: {why}", profile_id=entry.profile_id,
                   current=live.attributes if live else None, errors=(why,))
    return UndoPlan(history_id=entry.id, plan=blocked)


def _reason(entry: HistoryEntry) -> str:
    return f"undo of push {entry.id} ({entry.at}, {entry.trigger})"


def _guard(consent: tuple[ConsentChange, ...]) -> Guard:
    """Every consent reversal is held until the operator confirms it."""
    reasons = tuple(GuardReason(c.guard_kind, c.note) for c in consent
                    if c.guard_kind is not None)
    return Guard(reasons=reasons, held=frozenset(r.kind for r in reasons))


def _nothing_to_undo(entry: HistoryEntry, live: Profile | None) -> str | None:
    if entry.profile_id is None or entry.after is None or entry.route is Route.BLOCKED:
        return "the push wrote nothing to Klaviyo, so there is nothing to undo"
    if live is None:
        return f"profile {entry.profile_id} no longer exists in Klaviyo"
    return None


def _same(name: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    return same_value(name, left, right)


def _put(attributes: dict[str, Any], name: str, value: Any) -> None:
    head, _, tail = name.partition(".")
    if tail and head in ("location", "properties"):
        attributes.setdefault(head, {})[tail] = value
    else:
        attributes[name] = value


def _list_removals(entry: HistoryEntry, live: Profile,
                   list_ids: Mapping[str, str | None], notes: list[str]) -> tuple[ListChange, ...]:
    out: list[ListChange] = []
    for raw in entry.lists:
        name = str(raw.get("list"))
        if raw.get("action") != ListAction.ADD.value:
            notes.append(f"the push removed the profile from list {name}; undo does not add it "
                         "back (list membership can carry consent)")
            continue
        list_id = list_ids.get(name)
        if list_id is None:
            notes.append(f"list {name} no longer exists in Klaviyo: nothing to remove")
            continue
        if live.list_ids is not None and list_id not in live.list_ids:
            continue  # already not a member
        out.append(ListChange(list_name=name, list_id=list_id, action=ListAction.REMOVE))
    return tuple(out)


def _consent_done(raw: Mapping[str, Any]) -> ConsentDone:
    channel, action, where = str(raw.get("channel")), str(raw.get("action")), raw.get("list")
    on = f" on list {where}" if where else ""
    if action == ConsentAction.SUBSCRIBE.value:
        reverse = (f"unsubscribe {channel}{on} (a guarded unsubscribe: `undo --reverse-consent "
                   "--yes`, or in Klaviyo); a double opt-in email already sent cannot be recalled")
    else:
        reverse = (f"subscribe {channel}{on} again only with the person's consent (a guarded "
                   "re-subscribe: `undo --reverse-consent --yes`)")
    return ConsentDone(channel=channel, action=action, list_name=where, reverse=reverse)


def _reversal(raw: Mapping[str, Any], live: Profile,
              list_ids: Mapping[str, str | None]) -> ConsentChange:
    channel = Channel(str(raw.get("channel")))
    action = (ConsentAction.UNSUBSCRIBE if raw.get("action") == ConsentAction.SUBSCRIBE.value
              else ConsentAction.SUBSCRIBE)
    subject = live.email if channel is Channel.EMAIL else live.phone_number
    where = raw.get("list")
    kind = GuardKind.UNSUBSCRIBE if action is ConsentAction.UNSUBSCRIBE else GuardKind.RESUBSCRIBE
    return ConsentChange(
        channel=channel, action=action, list_name=where, guard_kind=kind,
        list_id=list_ids.get(str(where)) if where else None,
        risky=True, subject=subject,
        note=f"undo: {action.value} {channel.value}" + (f" on list {where}" if where else ""))
