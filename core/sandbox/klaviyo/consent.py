"""Consent on the emulated account: subscribe, double opt-in and its confirmation, unsubscribe."""

from __future__ import annotations

from core.sandbox.klaviyo.state import (
    API_METHOD,
    JSON,
    AccountState,
    channel_state,
)


def subscribe(
    account: AccountState,
    pid: str,
    channels: JSON,
    *,
    list_id: str | None,
    custom_source: str | None,
    historical: JSON | None,
) -> bool:
    """Record consent; True when a double opt-in email went out instead."""
    record = account.profiles[pid]
    now = account.now_iso()
    # A list's own setting decides; without a list the account's does (Klaviyo's rule).
    opt_in = account.lists[list_id]["opt_in_process"] if list_id else account.opt_in_process
    pending = False
    email = channels.get("email") or {}
    if email.get("marketing"):
        if opt_in == "double_opt_in" and historical is None:
            pending = True
            _request_double_opt_in(account, record, list_id, custom_source)
        else:
            _grant_email(
                account,
                record,
                list_id,
                custom_source,
                (historical or {}).get("email") or now,
                double_optin=False,
            )
    sms = channels.get("sms") or {}
    for kind, key in (("marketing", "sms_marketing"), ("transactional", "sms_transactional")):
        if sms.get(kind):
            state = channel_state(record, key)
            state.update(
                {
                    "consent": "SUBSCRIBED",
                    "consent_timestamp": (historical or {}).get(f"sms_{kind}") or now,
                    "last_updated": now,
                    "method": API_METHOD,
                    "method_detail": custom_source or "",
                }
            )
    if list_id and not pending:
        account.add_member(list_id, pid)
    record["updated"] = now
    account.changed = True
    return pending


def _grant_email(
    account: AccountState,
    record: JSON,
    list_id: str | None,
    custom_source: str | None,
    consented_at: str,
    *,
    double_optin: bool,
) -> None:
    now = account.now_iso()
    state = channel_state(record, "email_marketing")
    state.update(
        {
            "consent": "SUBSCRIBED",
            "consent_timestamp": consented_at,
            "last_updated": now,
            "method": API_METHOD,
            "method_detail": "",
            "custom_method_detail": custom_source,
            "double_optin": double_optin,
        }
    )
    # Subscribing lifts unsubscribe-type suppressions, as the spec describes.
    state["suppression"] = [
        s
        for s in state.get("suppression", [])
        if s["reason"] not in {"UNSUBSCRIBE", "SPAM_REPORT", "USER_SUPPRESSED"}
    ]
    if list_id:
        state["list_suppressions"] = [
            s for s in state.get("list_suppressions", []) if s["list_id"] != list_id
        ]


def _request_double_opt_in(
    account: AccountState, record: JSON, list_id: str | None, custom_source: str | None
) -> None:
    email = record["attributes"].get("email")
    entry = {
        "profile_id": record["id"],
        "list_id": list_id,
        "custom_source": custom_source,
        "requested_at": account.now_iso(),
    }
    account.pending = [
        p
        for p in account.pending
        if not (p["profile_id"] == record["id"] and p["list_id"] == list_id)
    ]
    account.pending.append(entry)
    account.outbox.append(
        {
            "to": email,
            "list_id": list_id,
            "list_name": account.lists[list_id]["name"] if list_id else None,
            "profile_id": record["id"],
            "at": entry["requested_at"],
        }
    )


def confirm_consent(account: AccountState, email: str) -> list[str | None]:
    """The person clicks the double opt-in link: subscribe and join every pending list."""
    pid = account.find_by_email(email)
    if pid is None:
        raise KeyError(f"no profile with email {email!r}")
    mine = [p for p in account.pending if p["profile_id"] == pid]
    if not mine:
        raise KeyError(f"no consent email is waiting for {email!r}")
    account.pending = [p for p in account.pending if p["profile_id"] != pid]
    record = account.profiles[pid]
    confirmed: list[str | None] = []
    for entry in mine:
        lid = entry["list_id"] if entry["list_id"] in account.lists else None
        _grant_email(
            account, record, lid, entry["custom_source"], account.now_iso(), double_optin=True
        )
        if lid:
            account.add_member(lid, pid)
        confirmed.append(lid)
    record["updated"] = account.now_iso()
    account.changed = True
    return confirmed


def unsubscribe(account: AccountState, pid: str, channels: JSON, *, list_id: str | None) -> None:
    """Revoke consent: a member leaves the list; anyone else is unsubscribed globally."""
    record = account.profiles[pid]
    now = account.now_iso()
    in_list = bool(list_id) and pid in account.members.get(list_id or "", {})
    email = channels.get("email") or {}
    if email.get("marketing"):
        account.pending = [
            p
            for p in account.pending
            if not (p["profile_id"] == pid and (list_id is None or p["list_id"] == list_id))
        ]
        state = channel_state(record, "email_marketing")
        if in_list and list_id:
            suppressions = [
                s for s in state.get("list_suppressions", []) if s["list_id"] != list_id
            ]
            suppressions.append({"list_id": list_id, "reason": "UNSUBSCRIBE", "timestamp": now})
            state["list_suppressions"] = suppressions
            state["last_updated"] = now
        else:
            suppression = [s for s in state.get("suppression", []) if s["reason"] != "UNSUBSCRIBE"]
            suppression.append({"reason": "UNSUBSCRIBE", "timestamp": now})
            state.update(
                {
                    "consent": "UNSUBSCRIBED",
                    "consent_timestamp": now,
                    "last_updated": now,
                    "method": API_METHOD,
                    "method_detail": "",
                    "suppression": suppression,
                }
            )
    sms = channels.get("sms") or {}
    for kind, key in (("marketing", "sms_marketing"), ("transactional", "sms_transactional")):
        if sms.get(kind) and not in_list:
            state = channel_state(record, key)
            state.update(
                {
                    "consent": "UNSUBSCRIBED",
                    "consent_timestamp": now,
                    "last_updated": now,
                    "method": API_METHOD,
                    "method_detail": "",
                }
            )
    if in_list and list_id:
        account.remove_member(list_id, pid)
    record["updated"] = now
    account.changed = True
