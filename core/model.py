"""The domain: iPaaS.com Customers, Klaviyo profiles, mapped payloads, plans and their records."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

JSON = dict[str, Any]
T = TypeVar("T")


def draft_of(cls: type[T]) -> type:
    """A plain class with the same slots as this frozen slots dataclass, for fast_init.

    Its attributes are set by ordinary (fast) assignment, then the instance becomes `cls` by
    __class__ assignment, which CPython allows between classes of identical slot layout: the
    result is a `cls` instance like any other, frozen from then on.
    """
    slots = tuple(vars(cls).get("__slots__", ()))
    if cls.__bases__ != (object,) or not slots:
        raise TypeError(f"{cls.__name__} is not a slots dataclass straight from object")
    draft = type(f"_{cls.__name__}Draft", (), {"__slots__": slots})
    probe: Any = object.__new__(draft)
    probe.__class__ = cls  # raises TypeError here, once, if the layouts differ
    return draft


def fast_init(cls: type[T]) -> Callable[..., T]:
    """A constructor for a frozen slots dataclass, same arguments, that skips the frozen __init__.

    The frozen __init__ sets each field through object.__setattr__; on the planner's hot path
    (a dozen objects per customer) that costs more than the work. The built instance is the
    same: same class, same fields, same defaults (factories called per instance).
    """
    params: list[str] = []
    lines: list[str] = []
    scope: dict[str, Any] = {"_cls": cls, "_draft": draft_of(cls),
                             "_missing": dataclasses.MISSING}
    for index, item in enumerate(dataclasses.fields(cast(Any, cls))):
        if not item.init:
            raise TypeError(f"{cls.__name__}.{item.name} is not an __init__ field")
        if item.default is not dataclasses.MISSING:
            scope[f"_default{index}"] = item.default
            params.append(f"{item.name}=_default{index}")
        elif item.default_factory is not dataclasses.MISSING:
            scope[f"_factory{index}"] = item.default_factory
            params.append(f"{item.name}=_missing")
            lines.append(f"    if {item.name} is _missing: {item.name} = _factory{index}()")
        else:
            params.append(item.name)
        lines.append(f"    self.{item.name} = {item.name}")
    # _draft() rather than object.__new__(_draft): the draft has no __init__, and calling the
    # class skips object.__new__'s argument and base checks (a third of an allocation's cost).
    source = (f"def build({', '.join(params)}):\n    self = _draft()\n"
              + "\n".join(lines) + "\n    self.__class__ = _cls\n    return self\n")
    # Generated from the class's own field names, as dataclasses generates __init__.
    exec(source, scope)
    built: Callable[..., T] = scope["build"]
    return built


class CustomerDataError(ValueError):
    """A Customer record that cannot be read; the message names the customer and the field."""


class ProfileDataError(ValueError):
    """A Klaviyo profile resource that cannot be read; the message names the profile and field."""


# --------------------------------------------------------------------------------------------
# iPaaS.com side
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    """One address of a Customer (field names follow iPaaS.com's address model)."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    phone_number: str | None = None
    address_1: str | None = None
    address_2: str | None = None
    address_3: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    postal_code: str | None = None
    is_primary_billing: bool = False
    is_primary_shipping: bool = False


@dataclass(frozen=True, slots=True)
class CustomField:
    name: str
    value: str | None


@dataclass(frozen=True, slots=True)
class ExternalId:
    system_id: int
    external_id: str
    internal_id: str | None = None


_ADDRESS_TEXT_FIELDS = (
    "first_name", "last_name", "company", "phone_number", "address_1", "address_2",
    "address_3", "city", "region", "country", "postal_code",
)
_CUSTOMER_TEXT_FIELDS = (
    "customer_number", "first_name", "last_name", "email_address", "company", "comment",
)


def _text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CustomerDataError(f"{where}{key} must be text, got {value!r}")
    text = str(value).strip()
    return text or None


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise CustomerDataError(f"{where}{key} must be true or false, got {value!r}")


def _items(raw: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise CustomerDataError(f"{where}{key} must be a list, got {type(value).__name__}")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise CustomerDataError(f"{where}{key}[{index}] must be an object, got {item!r}")
    return value


def _api_id(ident: str) -> int | str:
    # Only an id that reads back as the same text may become a number: "²" and "٣٤" are
    # digits to str.isdigit but int() refuses or rewrites them, and "007" would lose its zeros.
    if ident.isascii() and ident.isdigit() and str(int(ident)) == ident:
        return int(ident)
    return ident


@dataclass(frozen=True, slots=True)
class Customer:
    """An iPaaS.com Customer as `GET /customers/v2/Customer/{id}` returns it."""

    id: str
    customer_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_address: str | None = None
    company: str | None = None
    comment: str | None = None
    addresses: tuple[Address, ...] = ()
    custom_fields: tuple[CustomField, ...] = ()
    external_ids: tuple[ExternalId, ...] = ()

    @classmethod
    def from_api(cls, raw: Any) -> Customer:
        """Build from the API's snake_case JSON; a malformed record raises CustomerDataError."""
        if not isinstance(raw, Mapping):
            raise CustomerDataError(f"customer record must be an object, got {type(raw).__name__}")
        ident = raw.get("id")
        if isinstance(ident, bool) or not isinstance(ident, int | str) or not str(ident).strip():
            raise CustomerDataError(f"customer record: id must be a number or text, got {ident!r}")
        cid = str(ident).strip()
        where = f"customer {cid}: "
        texts = {key: _text(raw, key, where) for key in _CUSTOMER_TEXT_FIELDS}
        addresses = []
        for index, item in enumerate(_items(raw, "addresses", where)):
            at = f"{where}addresses[{index}]."
            addresses.append(
                Address(
                    **{key: _text(item, key, at) for key in _ADDRESS_TEXT_FIELDS},
                    is_primary_billing=_flag(item, "is_primary_billing", at),
                    is_primary_shipping=_flag(item, "is_primary_shipping", at),
                )
            )
        fields = []
        for index, item in enumerate(_items(raw, "custom_fields", where)):
            at = f"{where}custom_fields[{index}]."
            name = _text(item, "custom_field_name", at)
            if name is None:
                raise CustomerDataError(f"{at}custom_field_name is missing")
            fields.append(CustomField(name=name, value=_text(item, "value", at)))
        external = []
        for index, item in enumerate(_items(raw, "external_ids", where)):
            at = f"{where}external_ids[{index}]."
            system = item.get("system_id")
            try:
                if isinstance(system, bool):
                    raise TypeError
                system_id = int(system)  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                raise CustomerDataError(f"{at}system_id must be a number, got {system!r}") from None
            value = _text(item, "external_id", at)
            if value is None:
                raise CustomerDataError(f"{at}external_id is missing")
            external.append(ExternalId(system_id, value, _text(item, "internal_id", at)))
        return cls(
            id=cid,
            addresses=tuple(addresses),
            custom_fields=tuple(fields),
            external_ids=tuple(external),
            **texts,
        )

    def to_api(self) -> JSON:
        """The snake_case JSON iPaaS.com serves (used by the emulator and fixtures)."""
        return {
            "id": _api_id(self.id),
            **{key: getattr(self, key) for key in _CUSTOMER_TEXT_FIELDS},
            "addresses": [
                {
                    **{key: getattr(a, key) for key in _ADDRESS_TEXT_FIELDS},
                    "is_primary_billing": a.is_primary_billing,
                    "is_primary_shipping": a.is_primary_shipping,
                }
                for a in self.addresses
            ],
            "custom_fields": [
                {"custom_field_name": f.name, "value": f.value} for f in self.custom_fields
            ],
            "external_ids": [
                {"system_id": e.system_id, "external_id": e.external_id,
                 "internal_id": e.internal_id}
                for e in self.external_ids
            ],
        }

    @property
    def primary_billing(self) -> Address | None:
        """The first address, in order, marked primary billing."""
        for address in self.addresses:
            if address.is_primary_billing:
                return address
        return None

    def custom_field(self, name: str) -> str | None:
        """The value of the first custom field with this name (case-insensitive)."""
        wanted = name.casefold()
        return next((f.value for f in self.custom_fields if f.name.casefold() == wanted), None)

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email_address or f"customer {self.id}"


# --------------------------------------------------------------------------------------------
# Klaviyo side
# --------------------------------------------------------------------------------------------


class ConsentState(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    NEVER_SUBSCRIBED = "NEVER_SUBSCRIBED"


class OptIn(StrEnum):
    SINGLE = "single_opt_in"
    DOUBLE = "double_opt_in"


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Marketing consent per channel, as `additional-fields[profile]=subscriptions` reads it."""

    email: ConsentState = ConsentState.NEVER_SUBSCRIBED
    sms: ConsentState = ConsentState.NEVER_SUBSCRIBED


@dataclass(frozen=True, slots=True)
class Profile:
    """A Klaviyo profile: id, JSON:API attributes (properties, location nested) and consent."""

    id: str
    attributes: JSON = field(default_factory=dict)
    subscriptions: Subscriptions | None = None
    # Ids of the lists the profile belongs to; None when the read did not include them.
    list_ids: frozenset[str] | None = None
    # Attributes Klaviyo dropped from the write (X-Klaviyo-Partial-Failure), e.g. phone_number.
    partial_failure: tuple[str, ...] = ()

    @property
    def email(self) -> str | None:
        value = self.attributes.get("email")
        return value if isinstance(value, str) else None

    @property
    def phone_number(self) -> str | None:
        value = self.attributes.get("phone_number")
        return value if isinstance(value, str) else None

    @classmethod
    def from_api(cls, resource: Mapping[str, Any]) -> Profile:
        """Build from a JSON:API `profile` resource; a garbled one raises ProfileDataError."""
        if not isinstance(resource, Mapping):
            raise ProfileDataError(
                f"Klaviyo profile resource must be an object, got {type(resource).__name__}"
            )
        where = f"Klaviyo profile {resource.get('id') or '(no id)'}: "
        # Guessing is unsafe here: read as empty, a garbled profile would hide an opt-out from
        # the consent guard, so the push must stop instead.
        raw_attributes = resource.get("attributes") or {}
        if not isinstance(raw_attributes, Mapping):
            raise ProfileDataError(
                f"{where}attributes must be an object, got {type(raw_attributes).__name__}"
            )
        attributes = dict(raw_attributes)
        raw_subs = attributes.pop("subscriptions", None)
        subs = None
        if isinstance(raw_subs, Mapping):
            subs = Subscriptions(
                email=_consent(raw_subs, "email"),
                sms=_consent(raw_subs, "sms"),
            )
        lists = None
        relationships = resource.get("relationships") or {}
        if not isinstance(relationships, Mapping):
            raise ProfileDataError(
                f"{where}relationships must be an object, got {type(relationships).__name__}"
            )
        related = relationships.get("lists")
        if isinstance(related, Mapping) and isinstance(related.get("data"), list):
            for item in related["data"]:
                if not isinstance(item, Mapping) or not item.get("id"):
                    raise ProfileDataError(
                        f"{where}relationships.lists.data holds {item!r}, not a list identifier"
                    )
            lists = frozenset(str(item["id"]) for item in related["data"])
        return cls(
            id=str(resource.get("id", "")), attributes=attributes, subscriptions=subs,
            list_ids=lists,
        )


def _consent(subs: Mapping[str, Any], channel: str) -> ConsentState:
    node = subs.get(channel) or {}
    marketing = node.get("marketing") if isinstance(node, Mapping) else None
    value = marketing.get("consent") if isinstance(marketing, Mapping) else None
    try:
        return ConsentState(str(value))
    except ValueError:
        return ConsentState.NEVER_SUBSCRIBED


@dataclass(frozen=True, slots=True)
class KlaviyoList:
    id: str
    name: str
    opt_in_process: OptIn = OptIn.SINGLE


# --------------------------------------------------------------------------------------------
# Mapping output
# --------------------------------------------------------------------------------------------


class Collection(StrEnum):
    ADD = "add"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class ListIntent:
    """A LIST_ (consented) or UCLIST_ (membership only) custom field's mapped value."""

    list_name: str
    consent: bool
    member: bool


@dataclass(frozen=True, slots=True)
class MappedProfile:
    """A Customer mapped through one collection: what Klaviyo should hold after the push."""

    customer_id: str
    collection: Collection
    attributes: JSON
    properties: JSON
    subscribe: bool | None
    list_intents: tuple[ListIntent, ...] = ()
    phone_valid: bool | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    # What the template's Id mapping resolved (normally the stored link); None when unlinked.
    profile_id: str | None = None

    @property
    def has_identifier(self) -> bool:
        return bool(self.attributes.get("email") or self.attributes.get("phone_number"))


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------


class Route(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    LINK = "link"
    BLOCKED = "blocked"


class MatchedBy(StrEnum):
    EXTERNAL_ID = "external_id"
    EMAIL = "email"
    PHONE = "phone"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class ConsentAction(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


class ListAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class Change(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One subscription job the push will run; `risky` marks what the consent guard holds."""

    channel: Channel
    action: ConsentAction
    list_name: str | None = None
    list_id: str | None = None
    double_opt_in: bool = False
    risky: bool = False
    note: str = ""
    # The email address (email channel) or E.164 number (sms) the job names: the identity the
    # target profile has after the write, so the job cannot land on another profile.
    subject: str | None = None

    def to_json(self) -> JSON:
        return {
            "channel": self.channel.value,
            "action": self.action.value,
            "list": self.list_name,
            "double_opt_in": self.double_opt_in,
        }


@dataclass(frozen=True, slots=True)
class ListChange:
    list_name: str
    list_id: str
    action: ListAction

    def to_json(self) -> JSON:
        return {"list": self.list_name, "action": self.action.value}


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    current: Any
    mapped: Any
    change: Change

    def to_json(self) -> JSON:
        return {
            "field": self.field,
            "current": self.current,
            "mapped": self.mapped,
            "change": self.change.value,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a push would do for one customer, decided before anything is written."""

    customer_id: str
    route: Route
    reason: str
    matched_by: MatchedBy | None = None
    profile_id: str | None = None
    payload: JSON | None = None
    current: JSON | None = None
    diff: tuple[FieldDiff, ...] = ()
    consent: tuple[ConsentChange, ...] = ()
    lists: tuple[ListChange, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    error_kind: ErrorKind | None = None
    # What core.plan built this plan from, so a 409 on create can be re-planned without I/O.
    basis: object | None = field(default=None, compare=False, repr=False)

    @property
    def blocked(self) -> bool:
        return self.route is Route.BLOCKED

    @property
    def guarded_consent(self) -> tuple[ConsentChange, ...]:
        """Consent changes that need an explicit confirmation (design §6)."""
        return tuple(c for c in self.consent if c.risky)

    def to_json(self) -> JSON:
        return {
            "customer_id": self.customer_id,
            "route": self.route.value,
            "matched_by": self.matched_by.value if self.matched_by else None,
            "profile_id": self.profile_id,
            "reason": self.reason,
            "payload": self.payload,
            "current": self.current,
            "diff": [d.to_json() for d in self.diff],
            "consent": [c.to_json() for c in self.consent],
            "lists": [item.to_json() for item in self.lists],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
        }


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


class ErrorKind(StrEnum):
    NO_IDENTIFIER = "no_identifier"
    PHONE_REJECTED = "phone_rejected"
    API_UNAVAILABLE = "api_unavailable"
    RATE_LIMITED = "rate_limited"
    VALIDATION = "validation"
    CONFLICT = "conflict"
    LIST_NOT_FOUND = "list_not_found"
    CONSENT_GUARD = "consent_guard"
    NOT_FOUND = "not_found"
    AUTH = "auth"
    INTERNAL = "internal"


class Stage(StrEnum):
    """Where in the flow of design §3 a transfer failed."""

    FETCH = "fetch"
    MAP = "map"
    RESOLVE = "resolve"
    PLAN = "plan"
    WRITE = "write"
    CONSENT = "consent"
    LISTS = "lists"
    LINK = "link"


class ErrorStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One failed transfer in the error log, with enough to understand and retry it."""

    id: str
    customer_id: str
    kind: ErrorKind
    stage: Stage
    message: str
    retry_action: str
    created_at: str
    updated_at: str
    status: ErrorStatus = ErrorStatus.OPEN
    attempts: int = 1
    code: str | None = None
    detail: str | None = None
    http_status: int | None = None
    profile_id: str | None = None

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "kind": self.kind.value,
            "stage": self.stage.value,
            "message": self.message,
            "retry_action": self.retry_action,
            "status": self.status.value,
            "attempts": self.attempts,
            "code": self.code,
            "detail": self.detail,
            "http_status": self.http_status,
            "profile_id": self.profile_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ErrorRecord:
        return cls(
            id=str(raw["id"]),
            customer_id=str(raw["customer_id"]),
            kind=ErrorKind(raw["kind"]),
            stage=Stage(raw["stage"]),
            message=str(raw["message"]),
            retry_action=str(raw.get("retry_action", "")),
            created_at=str(raw["created_at"]),
            updated_at=str(raw.get("updated_at", raw["created_at"])),
            status=ErrorStatus(raw.get("status", "open")),
            attempts=int(raw.get("attempts", 1)),
            code=raw.get("code"),
            detail=raw.get("detail"),
            http_status=raw.get("http_status"),
            profile_id=raw.get("profile_id"),
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One push: the profile before, what was sent, the profile after, and the outcome."""

    id: str
    customer_id: str
    at: str
    route: Route
    ok: bool
    profile_id: str | None
    before: JSON | None
    sent: JSON | None
    after: JSON | None
    consent: tuple[JSON, ...] = ()
    lists: tuple[JSON, ...] = ()
    error_id: str | None = None
    trigger: str = "manual"

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "at": self.at,
            "route": self.route.value,
            "ok": self.ok,
            "profile_id": self.profile_id,
            "before": self.before,
            "sent": self.sent,
            "after": self.after,
            "consent": list(self.consent),
            "lists": list(self.lists),
            "error_id": self.error_id,
            "trigger": self.trigger,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            id=str(raw["id"]),
            customer_id=str(raw["customer_id"]),
            at=str(raw["at"]),
            route=Route(raw["route"]),
            ok=bool(raw["ok"]),
            profile_id=raw.get("profile_id"),
            before=raw.get("before"),
            sent=raw.get("sent"),
            after=raw.get("after"),
            consent=tuple(raw.get("consent") or ()),
            lists=tuple(raw.get("lists") or ()),
            error_id=raw.get("error_id"),
            trigger=str(raw.get("trigger", "manual")),
        )
