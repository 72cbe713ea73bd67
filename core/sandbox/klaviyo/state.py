"""The emulated account: profiles with identity indexes, lists and members, import jobs, seeding."""

from __future__ import annotations

import bisect
import copy
import random
from collections.abc import Callable, Iterable
from typing import Any

from core.sandbox.klaviyo.errors import KlaviyoProblem, duplicate_profile, invalid, not_found
from core.sandbox.klaviyo.ids import UlidSource, is_ulid, list_id_for
from core.sandbox.klaviyo.payloads import (
    EMAIL_DETAIL,
    PHONE_DETAIL,
    email_is_valid,
    has_identifier,
    phone_is_valid,
)

JSON = dict[str, Any]
OPT_IN = ("single_opt_in", "double_opt_in")
# Klaviyo ships accounts with double opt-in; a seed's account.opt_in_process may change it.
ACCOUNT_DEFAULT_OPT_IN = "double_opt_in"
CONSENTS = ("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED")
API_METHOD = "API"
STATE_VERSION = 1


def channel_state(record: JSON, channel: str) -> JSON:
    """A profile's consent state on one channel, created as never subscribed when absent."""
    state = record.get(channel)
    if state is None:
        state = {"consent": "NEVER_SUBSCRIBED"}
        record[channel] = state
    return state


def _email_key(email: str) -> str:
    return email.strip().lower()


class AccountState:
    """Everything the emulated Klaviyo account holds, with O(1) identity lookups."""

    def __init__(self, *, now_iso: Callable[[], str], epoch_ms: Callable[[], int],
                 rng: random.Random | None = None) -> None:
        self.now_iso = now_iso
        self._epoch_ms = epoch_ms
        self._rng = rng
        self._reset()

    def _reset(self) -> None:
        self.ids = UlidSource(self._rng)
        self.profiles: dict[str, JSON] = {}
        self.order: list[str] = []
        self.by_email: dict[str, str] = {}
        self.by_phone: dict[str, str] = {}
        self.by_external: dict[str, list[str]] = {}
        self.lists: dict[str, JSON] = {}
        self.list_by_name: dict[str, str] = {}
        self.members: dict[str, dict[str, str]] = {}
        self.memberships: dict[str, set[str]] = {}
        self.pending: list[JSON] = []
        self.outbox: list[JSON] = []
        self.jobs: dict[str, JSON] = {}
        # Governs a subscribe without a list, and a list created without its own setting.
        self.opt_in_process = ACCOUNT_DEFAULT_OPT_IN
        self.changed = False

    # ---------------------------------------------------------------- lookups

    def profile(self, profile_id: str) -> JSON | None:
        """The stored profile record, or None."""
        return self.profiles.get(profile_id)

    def find_by_email(self, email: str) -> str | None:
        """The id of the profile that owns this email (case-insensitive)."""
        return self.by_email.get(_email_key(email))

    def find_by_phone(self, phone: str) -> str | None:
        """The id of the profile that owns this phone number."""
        return self.by_phone.get(phone)

    def find_by_external_id(self, external_id: str) -> list[str]:
        """Ids of profiles carrying this external id (Klaviyo lets several share one)."""
        return list(self.by_external.get(external_id, ()))

    def suppressed(self, reason: str) -> set[str]:
        """Ids of profiles whose email marketing carries a suppression with this reason."""
        found = set()
        for pid, record in self.profiles.items():
            email = record.get("email_marketing")
            if email and any(s.get("reason") == reason for s in email.get("suppression") or ()):
                found.add(pid)
        return found

    def lists_of(self, profile_id: str) -> list[str]:
        """Ids of the lists a profile belongs to, in list-creation order."""
        mine = self.memberships.get(profile_id, set())
        return [lid for lid in self.lists if lid in mine]

    # ---------------------------------------------------------------- profiles

    def _new_id(self) -> str:
        return self.ids.next(self._epoch_ms())

    def _insert(self, record: JSON) -> None:
        pid = record["id"]
        self.profiles[pid] = record
        if not self.order or self.order[-1] < pid:
            self.order.append(pid)
        else:
            bisect.insort(self.order, pid)
        self._index(pid, record["attributes"])

    def _index(self, pid: str, attrs: JSON) -> None:
        if attrs.get("email"):
            self.by_email[_email_key(attrs["email"])] = pid
        if attrs.get("phone_number"):
            self.by_phone[attrs["phone_number"]] = pid
        if attrs.get("external_id"):
            self.by_external.setdefault(attrs["external_id"], []).append(pid)

    def _unindex(self, pid: str, attrs: JSON) -> None:
        if attrs.get("email") and self.by_email.get(_email_key(attrs["email"])) == pid:
            del self.by_email[_email_key(attrs["email"])]
        if attrs.get("phone_number") and self.by_phone.get(attrs["phone_number"]) == pid:
            del self.by_phone[attrs["phone_number"]]
        ext = attrs.get("external_id")
        if ext and pid in self.by_external.get(ext, ()):
            self.by_external[ext].remove(pid)
            if not self.by_external[ext]:
                del self.by_external[ext]

    def owner_conflict(self, attrs: JSON, pid: str | None) -> str | None:
        """The id of another profile that already owns the email or phone in attrs."""
        email = attrs.get("email")
        if email:
            owner = self.find_by_email(email)
            if owner is not None and owner != pid:
                return owner
        phone = attrs.get("phone_number")
        if phone:
            owner = self.find_by_phone(phone)
            if owner is not None and owner != pid:
                return owner
        return None

    def create_profile(self, attrs: JSON, *, profile_id: str | None = None) -> JSON:
        """Store a new profile; 409 when its email or phone already belongs to one."""
        owner = self.owner_conflict(attrs, None)
        if owner is not None:
            raise duplicate_profile(owner)
        if not has_identifier(attrs):
            raise invalid("One or more identifiers is required", pointer="/data/attributes")
        now = self.now_iso()
        pid = profile_id or self._new_id()
        if profile_id:
            self.ids.observe(profile_id)
        record: JSON = {"id": pid, "attributes": {}, "created": now, "updated": now}
        _merge_attributes(record["attributes"], attrs)
        self._insert(record)
        self.changed = True
        return record

    def update_profile(self, pid: str, attrs: JSON, patch: JSON | None = None) -> JSON:
        """Apply a partial update: omitted keeps, null clears, properties merge key by key."""
        record = self.profiles[pid]
        owner = self.owner_conflict(attrs, pid)
        if owner is not None:
            raise duplicate_profile(owner)
        merged = copy.deepcopy(record["attributes"])
        _merge_attributes(merged, attrs)
        if patch:
            _patch_properties(merged, patch)
        if not has_identifier(merged):
            raise invalid("One or more identifiers is required", pointer="/data/attributes")
        if merged != record["attributes"]:
            self._unindex(pid, record["attributes"])
            record["attributes"] = merged
            self._index(pid, merged)
            record["updated"] = self.now_iso()
            self.changed = True
        return record

    def upsert_profile(self, pid: str | None, attrs: JSON, patch: JSON | None) -> tuple[JSON, bool]:
        """Create or update by id, else email, phone, external id; returns (record, created)."""
        if pid:
            if pid not in self.profiles or self.owner_conflict(attrs, pid) is not None:
                # Klaviyo answers 404 here even when the id exists but the new email is taken.
                raise not_found(f"A profile with id {pid} does not exist.", pointer="/data/")
            return self.update_profile(pid, attrs, patch), False
        email_owner = self.find_by_email(attrs["email"]) if attrs.get("email") else None
        phone_owner = (
            self.find_by_phone(attrs["phone_number"]) if attrs.get("phone_number") else None
        )
        if email_owner and phone_owner and email_owner != phone_owner:
            raise duplicate_profile(phone_owner)
        target = email_owner or phone_owner
        if target is None and attrs.get("external_id"):
            matches = self.by_external.get(attrs["external_id"])
            target = matches[0] if matches else None
        if target is None:
            record = self.create_profile({k: v for k, v in attrs.items() if k != "_kx"})
            if patch:
                self.update_profile(record["id"], {}, patch)
            return record, True
        return self.update_profile(
            target, {k: v for k, v in attrs.items() if k != "_kx"}, patch
        ), False

    # ---------------------------------------------------------------- lists

    def create_list(
        self, name: str, opt_in_process: str | None = None, *, list_id: str | None = None
    ) -> JSON:
        """Store a list whose id derives from its name."""
        lid = list_id or list_id_for(name, frozenset(self.lists))
        now = self.now_iso()
        record = {
            "id": lid,
            "name": name,
            "opt_in_process": opt_in_process or self.opt_in_process,
            "created": now,
            "updated": now,
        }
        self.lists[lid] = record
        self.list_by_name.setdefault(name, lid)
        self.members.setdefault(lid, {})
        self.changed = True
        return record

    def add_member(self, lid: str, pid: str) -> None:
        """Put a profile in a list (idempotent); consent is not touched."""
        if pid not in self.members[lid]:
            self.members[lid][pid] = self.now_iso()
            self.memberships.setdefault(pid, set()).add(lid)
            self.changed = True

    def remove_member(self, lid: str, pid: str) -> None:
        """Take a profile out of a list (idempotent); consent is not touched."""
        if self.members[lid].pop(pid, None) is not None:
            self.memberships[pid].discard(lid)
            self.changed = True

    # ---------------------------------------------------------------- seed, dump, load

    def seed(
        self, profiles: list[JSON], lists: list[JSON], account: JSON | None = None
    ) -> dict[str, str]:
        """Load design §8 seed shapes; returns seed index -> profile id."""
        if account is not None:
            self._seed_account(account)
        for n, item in enumerate(lists):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("name"), str)
                or not item["name"]
            ):
                raise ValueError(f"seed list {n}: needs a non-empty 'name'")
            opt_in = item.get("opt_in_process", self.opt_in_process)
            if opt_in not in OPT_IN:
                raise ValueError(
                    f"seed list {n} ({item['name']}): opt_in_process must be one of {OPT_IN}"
                )
            if item["name"] in self.list_by_name:
                raise ValueError(f"seed list {n}: the name {item['name']!r} is used twice")
            self.create_list(item["name"], opt_in, list_id=item.get("id"))
        created: dict[str, str] = {}
        for n, item in enumerate(profiles):
            created[str(n)] = self._seed_profile(n, item)
        self.changed = True
        return created

    def _seed_account(self, account: JSON) -> None:
        if not isinstance(account, dict):
            raise ValueError("seed account: must be an object like {\"opt_in_process\": ...}")
        unknown = sorted(set(account) - {"opt_in_process"})
        if unknown:
            raise ValueError(f"seed account: unknown keys {unknown}; only opt_in_process is read")
        opt_in = account.get("opt_in_process", ACCOUNT_DEFAULT_OPT_IN)
        if opt_in not in OPT_IN:
            raise ValueError(
                f"seed account: opt_in_process must be 'double_opt_in' or 'single_opt_in', "
                f"got {opt_in!r}"
            )
        self.opt_in_process = opt_in
        self.changed = True

    def _seed_profile(self, n: int, item: JSON) -> str:
        where = f"seed profile {n}"
        if not isinstance(item, dict) or not isinstance(item.get("attributes"), dict):
            raise ValueError(f"{where}: needs an 'attributes' object")
        attrs = item["attributes"]
        if attrs.get("email") and not email_is_valid(attrs["email"]):
            raise ValueError(f"{where}: {EMAIL_DETAIL.lower()} {attrs['email']!r}")
        if attrs.get("phone_number") and not phone_is_valid(attrs["phone_number"]):
            raise ValueError(f"{where}: {PHONE_DETAIL}")
        pid = item.get("id")
        if pid is not None and (
            not isinstance(pid, str) or not is_ulid(pid) or pid in self.profiles
        ):
            raise ValueError(f"{where}: id must be a new 26-character ULID, got {pid!r}")
        try:
            record = self.create_profile(attrs, profile_id=pid)
        except KlaviyoProblem as problem:
            raise ValueError(f"{where}: {problem.detail}") from None
        subs = item.get("subscriptions") or {}
        for channel, key in (("email", "email_marketing"), ("sms", "sms_marketing")):
            consent = subs.get(channel)
            if consent is None:
                continue
            if consent not in CONSENTS:
                raise ValueError(f"{where}: subscriptions.{channel} must be one of {CONSENTS}")
            if consent != "NEVER_SUBSCRIBED":
                state = channel_state(record, key)
                state.update(
                    {
                        "consent": consent,
                        "consent_timestamp": record["created"],
                        "last_updated": record["created"],
                        "method": API_METHOD,
                        "method_detail": "",
                    }
                )
                if channel == "email" and consent == "UNSUBSCRIBED":
                    state["suppression"] = [
                        {"reason": "UNSUBSCRIBE", "timestamp": record["created"]}
                    ]
        for name in item.get("lists") or []:
            lid = self.list_by_name.get(name)
            if lid is None:
                raise ValueError(
                    f"{where}: names the list {name!r}, which the seed's lists do not define"
                )
            self.add_member(lid, record["id"])
        return str(record["id"])

    def dump(self) -> JSON:
        """All state as JSON-able data (shared with the live state: serialise it at once)."""
        return {
            "version": STATE_VERSION,
            "account": {"opt_in_process": self.opt_in_process},
            "profiles": [self.profiles[pid] for pid in self.order],
            "lists": list(self.lists.values()),
            "members": self.members,
            "pending": self.pending,
            "outbox": self.outbox,
            "jobs": list(self.jobs.values()),
        }

    def load(self, state: JSON) -> None:
        """Replace all state with a dump, taking ownership of it, and rebuild the indexes."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"Klaviyo sandbox state version {state.get('version')!r} is not {STATE_VERSION}"
            )
        self._reset()
        fresh = state
        # States saved before the account setting existed get Klaviyo's default.
        account = fresh.get("account") or {}
        opt_in = account.get("opt_in_process", ACCOUNT_DEFAULT_OPT_IN)
        if opt_in not in OPT_IN:
            raise ValueError(f"Klaviyo sandbox account opt_in_process {opt_in!r} is not valid")
        self.opt_in_process = opt_in
        for record in fresh["lists"]:
            self.lists[record["id"]] = record
            self.list_by_name.setdefault(record["name"], record["id"])
            self.members[record["id"]] = {}
        for record in fresh["profiles"]:
            self.profiles[record["id"]] = record
            self._index(record["id"], record["attributes"])
        self.order = sorted(self.profiles)
        if self.order:
            self.ids.observe(self.order[-1])
        for lid, members in fresh["members"].items():
            self.members[lid] = members
            for pid in members:
                self.memberships.setdefault(pid, set()).add(lid)
        self.pending = fresh["pending"]
        self.outbox = fresh["outbox"]
        self.jobs = {job["id"]: job for job in fresh["jobs"]}
        self.changed = False


def _merge_attributes(target: JSON, attrs: JSON) -> None:
    for key, value in attrs.items():
        if key == "_kx":
            continue
        if key in {"properties", "location"}:
            if value is None:
                target.pop(key, None)
                continue
            merged = dict(target.get(key) or {})
            for inner, inner_value in value.items():
                if inner_value is None and key == "location":
                    merged.pop(inner, None)
                else:
                    merged[inner] = inner_value
            if merged:
                target[key] = merged
            else:
                target.pop(key, None)
        elif value is None:
            target.pop(key, None)
        else:
            target[key] = value


def _as_values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _patch_properties(attrs: JSON, patch: JSON) -> None:
    props = dict(attrs.get("properties") or {})
    for key, value in (patch.get("append") or {}).items():
        current = props.get(key)
        items = (
            list(current) if isinstance(current, list) else ([] if current is None else [current])
        )
        items.extend(_as_values(value))
        props[key] = items
    for key, value in (patch.get("unappend") or {}).items():
        current = props.get(key)
        if isinstance(current, list):
            drop = _as_values(value)
            props[key] = [item for item in current if item not in drop]
    unset = patch.get("unset")
    for key in [unset] if isinstance(unset, str) else (unset or []):
        props.pop(key, None)
    if props:
        attrs["properties"] = props
    else:
        attrs.pop("properties", None)


def iter_ids(ids: Iterable[str]) -> list[str]:
    """Sorted unique ids."""
    return sorted(set(ids))
