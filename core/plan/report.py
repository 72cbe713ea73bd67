"""A template's impact over many customers: counts of their plans, with sample ids per bucket."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.model import JSON, Change, ConsentAction, GuardKind, ListAction, Plan, Route

SAMPLES = 10
CSV_COLUMNS = ("customer_id", "route", "matched_by", "profile_id", "blocked", "added", "changed",
               "unchanged", "kept", "consent", "lists", "confirm_needed", "warnings")

CONSENT_KINDS = (ConsentAction.SUBSCRIBE.value, ConsentAction.UNSUBSCRIBE.value,
                 GuardKind.CONSENT_EMAIL.value, GuardKind.RESUBSCRIBE.value)


@dataclass
class Report:
    """Counts over plans (design §9 report --json); add() one plan at a time, in any order."""

    customers: int = 0
    routes: Counter[str] = field(default_factory=lambda: Counter({r.value: 0 for r in Route}))
    blocked: Counter[str] = field(default_factory=Counter)
    fields: dict[str, Counter[str]] = field(default_factory=dict)
    consent: Counter[str] = field(default_factory=lambda: Counter(
        {kind: 0 for kind in CONSENT_KINDS}))
    confirm_needed: int = 0
    lists: dict[str, Counter[str]] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, plan: Plan) -> None:
        """Count one customer's plan."""
        cid = plan.customer_id
        self.customers += 1
        self._hit(self.routes, plan.route.value, f"routes.{plan.route.value}", cid)
        if plan.blocked:
            kind = plan.error_kind.value if plan.error_kind else "validation"
            self._hit(self.blocked, kind, f"blocked.{kind}", cid)
            return
        for diff in plan.diff:
            counts = self.fields.setdefault(diff.field, Counter({c.value: 0 for c in Change}))
            self._hit(counts, diff.change.value, f"fields.{diff.field}.{diff.change.value}", cid)
        for kind in consent_kinds(plan):
            self._hit(self.consent, kind, f"consent.{kind}", cid)
        if plan.guard.confirm_needed:
            self.confirm_needed += 1
            self._sample("confirm_needed", cid)
        for change in plan.lists:
            counts = self.lists.setdefault(change.list_name,
                                           Counter({a.value: 0 for a in ListAction}))
            action = change.action.value
            self._hit(counts, action, f"lists.{change.list_name}.{action}", cid)

    def _hit(self, counter: Counter[str], key: str, bucket: str, cid: str) -> None:
        counter[key] += 1
        self._sample(bucket, cid)

    def _sample(self, bucket: str, cid: str) -> None:
        ids = self.samples[bucket]
        if len(ids) < SAMPLES and (not ids or ids[-1] != cid):
            ids.append(cid)

    def to_json(self) -> JSON:
        return {
            "customers": self.customers,
            "routes": dict(self.routes),
            "blocked": dict(sorted(self.blocked.items())),
            "fields": {name: dict(counts) for name, counts in self.fields.items()},
            "consent": dict(self.consent),
            "confirm_needed": self.confirm_needed,
            "lists": {name: dict(counts) for name, counts in sorted(self.lists.items())},
            "samples": dict(self.samples),
        }

    def bucket_ids(self, bucket: str) -> list[str]:
        """The sample customer ids of one bucket ("routes.create", "fields.email.added"...)."""
        return list(self.samples.get(bucket, ()))


def consent_kinds(plan: Plan) -> list[str]:
    """Each consent operation of the plan by action, plus its consent-email or resubscribe kind
    when the guard names one."""
    out: list[str] = []
    for change in plan.consent:
        out.append(change.action.value)
        if change.guard_kind in (GuardKind.CONSENT_EMAIL, GuardKind.RESUBSCRIBE):
            assert change.guard_kind is not None
            out.append(change.guard_kind.value)
    return out


def signature(plan: Plan) -> Any:
    """What a push of this plan would do, without the words explaining it."""
    body = plan.to_json()
    return (body["route"], body["profile_id"], body["payload"], body["consent"], body["lists"],
            body.get("guard"), body["errors"])


def differing(first: Mapping[str, Plan], second: Mapping[str, Plan]) -> list[str]:
    """Customer ids whose plan under the second template differs from the first's."""
    ids = [cid for cid in first if cid in second]
    return [cid for cid in ids if signature(first[cid]) != signature(second[cid])]


def csv_row(plan: Plan) -> dict[str, str]:
    """One customer's plan as a row of CSV_COLUMNS."""
    by_change: dict[str, list[str]] = {c.value: [] for c in Change}
    for diff in plan.diff:
        by_change[diff.change.value].append(diff.field)
    consent = [f"{c.action.value} {c.channel.value}" + (f" ({c.list_name})" if c.list_name else "")
               for c in plan.consent]
    return {
        "customer_id": plan.customer_id,
        "route": plan.route.value,
        "matched_by": plan.matched_by.value if plan.matched_by else "",
        "profile_id": plan.profile_id or "",
        "blocked": (plan.error_kind.value if plan.error_kind else "validation")
        if plan.blocked else "",
        **{name: ";".join(fields) for name, fields in by_change.items()},
        "consent": ";".join(consent),
        "lists": ";".join(f"{c.action.value} {c.list_name}" for c in plan.lists),
        "confirm_needed": "yes" if plan.guard.confirm_needed else "no",
        "warnings": ";".join(plan.warnings),
    }
