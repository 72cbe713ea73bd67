"""The routing rules of design §4 as one table: which profile a push lands on, and why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from core.mapping import NO_IDENTIFIER
from core.model import ErrorKind, KlaviyoList, MappedProfile, MatchedBy, Profile, Route
from core.plan.diff import is_empty
from core.plan.facts import Facts


@dataclass(frozen=True, slots=True)
class Decision:
    """The route of one customer: target, reason, what is left out, and what blocks it."""

    route: Route
    mapped: MappedProfile  # the collection the route uses
    reason: str
    target: Profile | None = None
    matched_by: MatchedBy | None = None
    send: bool = True  # False: on_match = "link-only", the profile is linked, not patched
    leave_out: frozenset[str] = frozenset()  # identifiers another profile owns
    warnings: tuple[str, ...] = ()
    error_kind: ErrorKind | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Situation:
    """The facts as the table reads them, with the collection the link selected."""

    facts: Facts
    mapped: MappedProfile
    on_match: str
    warnings: tuple[str, ...]

    @property
    def email(self) -> object:
        return self.mapped.attributes.get("email")

    @property
    def phone(self) -> object:
        return self.mapped.attributes.get("phone_number")


@dataclass(frozen=True, slots=True)
class Rule:
    situation: str  # the design §4 row, in its words
    holds: Callable[[Situation], bool]
    route: Callable[[Situation], Decision]


@dataclass(frozen=True, slots=True)
class Block:
    situation: str
    holds: Callable[[Situation], bool]
    kind: ErrorKind


# ---- the rows' conditions ---------------------------------------------------------------


def _linked(s: Situation) -> bool:
    return s.facts.linked


def _email_matches(s: Situation) -> bool:
    return s.facts.email_match is not None


def _phone_matches(s: Situation) -> bool:
    return s.facts.phone_match is not None


def _always(s: Situation) -> bool:
    return True


def _no_identifier(s: Situation) -> bool:
    return not s.mapped.has_identifier


def _mapping_error(s: Situation) -> bool:
    return bool(s.mapped.errors)


def _list_missing(s: Situation) -> bool:
    return bool(_missing_lists(s.mapped, s.facts.lists))


# ---- the rows' routes -------------------------------------------------------------------


def _update(s: Situation) -> Decision:
    target = s.facts.linked_profile
    assert target is not None  # _linked holds
    return _to_existing(s, Route.UPDATE, target, MatchedBy.EXTERNAL_ID,
                        f"linked via external id {s.facts.link}", send=True)


def _link_by_email(s: Situation) -> Decision:
    found = s.facts.email_match
    assert found is not None  # _email_matches holds
    return _link(s, found, MatchedBy.EMAIL,
                 f"email {s.email or found.email} matched profile {found.id}")


def _link_by_phone(s: Situation) -> Decision:
    found = s.facts.phone_match
    assert found is not None  # _phone_matches holds
    words = f"phone {s.phone or found.phone_number} matched profile {found.id}"
    if s.email:
        words = f"no profile has email {s.email}; {words}"
    return _link(s, found, MatchedBy.PHONE, words)


def _create(s: Situation) -> Decision:
    said = [f"email {s.email}"] if s.email else []
    if s.phone:
        said.append(f"phone {s.phone}")
    return Decision(route=Route.CREATE, mapped=s.mapped,
                    reason="no profile has " + " or ".join(said), warnings=s.warnings)


# Design §4, walked in order; the first row whose situation holds routes the customer.
# "linked, profile gone from Klaviyo (404)" is a stale link: the Situation warns and maps the
# Add collection, so the rows below it treat the customer as unlinked. A link iPaaS.com marked
# `DELETED:` is not a link either (design §3): the same warning, and the reason says so.
ROUTES: tuple[Rule, ...] = (
    Rule("linked, profile exists -> UPDATE with the Update collection", _linked, _update),
    Rule("unlinked, email matches a profile -> LINK (matched by email)",
         _email_matches, _link_by_email),
    Rule("unlinked, no email match, phone matches -> LINK (matched by phone)",
         _phone_matches, _link_by_phone),
    Rule("unlinked, no match -> CREATE", _always, _create),
)

# Then these, in order: the first that holds blocks the route chosen above; nothing is sent.
BLOCKS: tuple[Block, ...] = (
    Block("no email and no normalizable phone", _no_identifier, ErrorKind.NO_IDENTIFIER),
    Block("the mapping has an error (design §5)", _mapping_error, ErrorKind.VALIDATION),
    Block("a named list does not exist in Klaviyo", _list_missing, ErrorKind.LIST_NOT_FOUND),
)


def decide(facts: Facts, mapped_add: MappedProfile | None, mapped_update: MappedProfile | None,
           on_match: str = "patch") -> Decision:
    """Route one mapped customer by the design §4 table; only the collection the link selects
    (Update for a live link, else Add) must be given."""
    situation = _situation(facts, mapped_add, mapped_update, on_match)
    decision = _route(situation)
    if facts.deleted_link is not None and not facts.linked:
        decision = replace(decision, reason=f"iPaaS.com link to profile {facts.deleted_link} "
                           f"marked deleted; {decision.reason}")
    block = _block(situation)
    if block is None:
        return decision
    errors = _block_errors(situation.mapped, facts.lists)
    return replace(decision, route=Route.BLOCKED, reason=f"blocked: {errors[0]}",
                   send=False, leave_out=frozenset(), warnings=situation.warnings,
                   error_kind=block.kind, errors=errors)


# Plain loops: a generator handed to next() costs five times as much, once per plan.
def _route(situation: Situation) -> Decision:
    for rule in ROUTES:
        if rule.holds(situation):
            return rule.route(situation)
    raise AssertionError("the last row of ROUTES always holds")


def _block(situation: Situation) -> Block | None:
    for block in BLOCKS:
        if block.holds(situation):
            return block
    return None


def _situation(facts: Facts, mapped_add: MappedProfile | None,
               mapped_update: MappedProfile | None, on_match: str) -> Situation:
    if facts.linked:
        if mapped_update is None:
            raise ValueError("a linked customer needs its Update-collection mapping")
        return Situation(facts, mapped_update, on_match, mapped_update.warnings)
    if mapped_add is None:
        raise ValueError("an unlinked customer needs its Add-collection mapping")
    return Situation(facts, mapped_add, on_match, unlinked_warnings(facts, mapped_add))


def unlinked_warnings(facts: Facts, mapped: MappedProfile) -> tuple[str, ...]:
    """The Add mapping's warnings, after the stale link's when there is one."""
    if facts.link is not None:
        return (f"stale link: profile {facts.link} no longer exists in Klaviyo; "
                "treated as not linked", *mapped.warnings)
    if facts.deleted_link is not None:
        return (f"stale link: the iPaaS.com link to profile {facts.deleted_link} was marked "
                "deleted; treated as not linked (Add collection)", *mapped.warnings)
    return mapped.warnings


def _link(s: Situation, found: Profile, matched_by: MatchedBy, reason: str) -> Decision:
    send = s.on_match != "link-only"
    if not send:
        reason += '; on_match = "link-only": the profile is linked, not patched'
    return _to_existing(s, Route.LINK, found, matched_by, reason, send=send)


def _to_existing(s: Situation, route: Route, target: Profile, matched_by: MatchedBy | None,
                 reason: str, *, send: bool) -> Decision:
    """A route to an existing profile; when email and phone match different profiles, the
    identifier another profile owns is left out of the payload, with a warning naming both."""
    warnings = list(s.warnings)
    leave_out: set[str] = set()
    if send:
        for key, match, label in (("email", s.facts.email_match, "email"),
                                  ("phone_number", s.facts.phone_match, "phone")):
            value = s.mapped.attributes.get(key)
            if match is None or match.id == target.id or is_empty(value):
                continue
            leave_out.add(key)
            warnings.append(
                f"{label} {value} belongs to profile {match.id}, not to profile {target.id} "
                f"this push targets: {label} left out of the payload so no identifier moves "
                "between profiles"
            )
    return Decision(route=route, mapped=s.mapped, reason=reason, target=target,
                    matched_by=matched_by, send=send, leave_out=frozenset(leave_out),
                    warnings=tuple(warnings))


def _missing_lists(mapped: MappedProfile,
                   lists: Mapping[str, KlaviyoList | None]) -> dict[str, str]:
    """Names of the lists the mapping names that Klaviyo lacks, with the prefix naming them."""
    missing: dict[str, str] = {}
    for intent in mapped.list_intents:
        if lists.get(intent.list_name) is None:
            missing.setdefault(intent.list_name, "LIST_" if intent.consent else "UCLIST_")
    return missing


def _block_errors(mapped: MappedProfile,
                  lists: Mapping[str, KlaviyoList | None]) -> tuple[str, ...]:
    errors = list(mapped.errors)
    if not mapped.has_identifier and not any("identifier" in error for error in errors):
        errors.insert(0, NO_IDENTIFIER)
    for name, prefix in _missing_lists(mapped, lists).items():
        errors.append(f'list "{name}" (named by {prefix}{name}) does not exist in Klaviyo; '
                      "create it there or change the mapping")
    return tuple(errors)
