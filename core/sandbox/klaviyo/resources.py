"""JSON:API documents for profiles, lists and import jobs, shaped as Klaviyo returns them."""

from __future__ import annotations

from typing import Any

from core.sandbox.klaviyo.payloads import LOCATION_ORDER, PROFILE_STRINGS

JSON = dict[str, Any]


def _rel(base: str, kind: str, rid: str, name: str) -> JSON:
    return {
        "links": {
            "self": f"{base}/api/{kind}/{rid}/relationships/{name}/",
            "related": f"{base}/api/{kind}/{rid}/{name}/",
        }
    }


def email_marketing(record: JSON) -> JSON:
    """The `subscriptions.email.marketing` object."""
    state = record.get("email_marketing") or {}
    suppression = list(state.get("suppression") or [])
    return {
        "can_receive_email_marketing": not suppression,
        "consent": state.get("consent", "NEVER_SUBSCRIBED"),
        "consent_timestamp": state.get("consent_timestamp"),
        "last_updated": state.get("last_updated"),
        "method": state.get("method"),
        "method_detail": state.get("method_detail"),
        "custom_method_detail": state.get("custom_method_detail"),
        "double_optin": state.get("double_optin"),
        "suppression": suppression,
        "list_suppressions": list(state.get("list_suppressions") or []),
    }


def _sms(record: JSON, key: str, flag: str) -> JSON:
    state = record.get(key) or {}
    consent = state.get("consent", "NEVER_SUBSCRIBED")
    return {
        flag: consent == "SUBSCRIBED",
        "consent": consent,
        "consent_timestamp": state.get("consent_timestamp"),
        "method": state.get("method"),
        "method_detail": state.get("method_detail"),
        "last_updated": state.get("last_updated"),
    }


def subscriptions(record: JSON) -> JSON:
    """The `subscriptions` additional field."""
    return {
        "email": {"marketing": email_marketing(record)},
        "sms": {
            "marketing": _sms(record, "sms_marketing", "can_receive_sms_marketing"),
            "transactional": _sms(record, "sms_transactional", "can_receive_sms_transactional"),
        },
    }


def profile_attributes(record: JSON, *, with_subscriptions: bool, with_predictive: bool) -> JSON:
    """Every profile attribute, null when unset, in Klaviyo's order."""
    stored = record["attributes"]
    attrs: JSON = {key: stored.get(key) for key in PROFILE_STRINGS}
    attrs["created"] = record["created"]
    attrs["updated"] = record["updated"]
    attrs["last_event_date"] = record.get("last_event_date")
    location = stored.get("location") or {}
    attrs["location"] = {key: location.get(key) for key in LOCATION_ORDER}
    attrs["properties"] = dict(stored.get("properties") or {})
    if with_subscriptions:
        attrs["subscriptions"] = subscriptions(record)
    if with_predictive:
        attrs["predictive_analytics"] = {
            "historic_clv": None,
            "predicted_clv": None,
            "total_clv": None,
            "historic_number_of_orders": None,
            "predicted_number_of_orders": None,
            "average_days_between_orders": None,
            "average_order_value": None,
            "churn_probability": None,
            "expected_date_of_next_order": None,
        }
    return attrs


def sparse(attrs: JSON, fields: list[str] | None) -> JSON:
    """Keep only the requested fields; dotted names keep one nested key."""
    if fields is None:
        return attrs
    out: JSON = {}
    for name in fields:
        head, _, rest = name.partition(".")
        if head not in attrs:
            continue
        if not rest:
            out[head] = attrs[head]
            continue
        node: Any = attrs[head]
        target = out.setdefault(head, {})
        parts = rest.split(".")
        for part in parts[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
            target = target.setdefault(part, {})
        if isinstance(node, dict) and parts[-1] in node:
            target[parts[-1]] = node[parts[-1]]
    return out


def profile_resource(
    record: JSON,
    base: str,
    *,
    fields: list[str] | None = None,
    with_subscriptions: bool = False,
    with_predictive: bool = False,
    list_ids: list[str] | None = None,
) -> JSON:
    """One profile resource object."""
    pid = record["id"]
    attrs = profile_attributes(
        record, with_subscriptions=with_subscriptions, with_predictive=with_predictive
    )
    lists_rel = _rel(base, "profiles", pid, "lists")
    if list_ids is not None:
        lists_rel["data"] = [{"type": "list", "id": lid} for lid in list_ids]
    return {
        "type": "profile",
        "id": pid,
        "attributes": sparse(attrs, fields),
        "relationships": {
            "lists": lists_rel,
            "segments": _rel(base, "profiles", pid, "segments"),
            "push-tokens": _rel(base, "profiles", pid, "push-tokens"),
        },
        "links": {"self": f"{base}/api/profiles/{pid}/"},
    }


def list_resource(
    record: JSON, base: str, *, fields: list[str] | None = None, profile_count: int | None = None
) -> JSON:
    """One list resource object."""
    lid = record["id"]
    attrs: JSON = {
        "name": record["name"],
        "created": record["created"],
        "updated": record["updated"],
        "opt_in_process": record["opt_in_process"],
    }
    if profile_count is not None:
        attrs["profile_count"] = profile_count
    return {
        "type": "list",
        "id": lid,
        "attributes": sparse(attrs, fields),
        "relationships": {
            "profiles": _rel(base, "lists", lid, "profiles"),
            "tags": _rel(base, "lists", lid, "tags"),
            "flow-triggers": _rel(base, "lists", lid, "flow-triggers"),
        },
        "links": {"self": f"{base}/api/lists/{lid}/"},
    }
