"""Design §6's consent policy table, row by row at the plan level, on both account settings.

Each row is checked against SUBSCRIBED / UNSUBSCRIBED / NEVER_SUBSCRIBED / unknown consent,
members and non-members of single and double opt-in lists, and consent emails fresh, expired
or asked to be re-sent.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.model import (
    ConsentAction,
    ConsentChange,
    ConsentState,
    GuardKind,
    KlaviyoList,
    Plan,
)
from core.plan import ConsentPolicy, PlanSettings, plan_mapped

from .builders import (
    ANN,
    ANN_PHONE,
    DOI_LIST,
    DOUBLE,
    NEVER,
    NOW,
    OTHER,
    SINGLE,
    SMS_LIST,
    SUBSCRIBED,
    UNSUBSCRIBED,
    facts,
    intent,
    mapped,
    profile,
)

ACCOUNTS = pytest.mark.parametrize("account", [SINGLE, DOUBLE], ids=["single", "double"])
FRESH = "2026-12-01T10:00:00+00:00"  # six days before NOW
EXPIRED = "2026-10-01T10:00:00+00:00"  # more than 30 days before NOW
HELD_BY_DEFAULT = {GuardKind.UNSUBSCRIBE, GuardKind.RESUBSCRIBE}


def plan(state: ConsentState | None = NEVER, *, subscribe: bool | None = True,
         from_customer: bool = False, klist: KlaviyoList | None = None,
         member: bool | None = False, sent: dict[str, str] | None = None,
         resend: bool = False, account: PlanSettings = DOUBLE, new: bool = False,
         sms: bool = False, now: str = NOW, unknown: tuple[str, ...] = ()) -> Plan:
    """Ann's plan against profile OTHER (matched by email) in `state`, or a new profile.

    `member` None: membership was not read; `sent`: list id ("" for none) -> consent email time,
    None when the mode could not read them.
    """
    intents = () if klist is None else (intent(klist.name, consent=True, member=True),)
    m = mapped(subscribe=subscribe, from_customer=from_customer, intents=intents)
    memberships = None if member is None else {
        klist.id if klist else SMS_LIST.id: frozenset({OTHER} if member else ())}
    emails = None if sent is None else {(OTHER, key): at for key, at in sent.items()}
    target = None if new else profile(OTHER, email=state, sms=state or NEVER, lists=None)
    f = facts(email_match=target, memberships=memberships, consent_emails=emails, now=now,
              resend_consent_email=resend, unknown=unknown)
    return plan_mapped(f, m, None, replace(account, sms_consent=sms))


def email(p: Plan, list_name: str | None = None) -> ConsentChange | None:
    """The plan's email consent change without a list, or with `list_name`."""
    return next((c for c in p.consent
                 if c.channel.value == "email" and c.list_name == list_name), None)


def kinds(p: Plan) -> list[GuardKind]:
    return [reason.kind for reason in p.guard.reasons]


# --- row 1: an opt-out from the source is applied, never held --------------------------------


@ACCOUNTS
@pytest.mark.parametrize("state", [SUBSCRIBED, NEVER, None])
def test_an_opt_out_from_the_source_is_applied_and_never_held(
        state: ConsentState | None, account: PlanSettings) -> None:
    p = plan(state, subscribe=False, from_customer=True, account=account, sms=True)
    assert [(c.channel.value, c.action) for c in p.consent] == [
        ("email", ConsentAction.UNSUBSCRIBE), ("sms", ConsentAction.UNSUBSCRIBE)]
    assert all(c.from_source and c.guard_kind is None and not c.risky for c in p.consent)
    assert p.guard.reasons == () and not p.guard.confirm_needed
    assert p.guard.fingerprint() != ""  # the jobs still run, so a confirmation can name them


def test_an_opt_out_from_the_source_on_a_new_profile_is_applied_too() -> None:
    p = plan(subscribe=False, from_customer=True, new=True)
    assert email(p).from_source and p.guard.reasons == ()


@ACCOUNTS
def test_an_opt_out_of_someone_already_unsubscribed_changes_nothing(
        account: PlanSettings) -> None:
    for from_customer in (True, False):
        p = plan(UNSUBSCRIBED, subscribe=False, from_customer=from_customer, account=account)
        assert p.consent == () and p.guard.reasons == ()


# --- row 2: an unsubscribe that is not the customer's own value is held ----------------------


@ACCOUNTS
@pytest.mark.parametrize("state", [SUBSCRIBED, NEVER, None])
@pytest.mark.parametrize(("subscribe", "why"), [
    (None, "SubscribeProfile is unmapped or empty for this customer"),
    (False, "the template sets SubscribeProfile to false, not the customer's own value"),
])
def test_an_unsubscribe_the_template_made_is_held(
        state: ConsentState | None, subscribe: bool | None, why: str,
        account: PlanSettings) -> None:
    p = plan(state, subscribe=subscribe, account=account, sms=True)
    assert [c.guard_kind for c in p.consent] == [GuardKind.UNSUBSCRIBE] * 2
    assert all(c.risky and not c.from_source for c in p.consent)
    assert p.guard.held == {GuardKind.UNSUBSCRIBE} and p.guard.confirm_needed
    assert [r.text for r in p.guard.reasons] == [
        f"unsubscribes {ANN} from email marketing: {why}",
        f"unsubscribes {ANN_PHONE} from SMS marketing: {why}",
    ]
    assert p.guarded_consent == p.consent


def test_an_unsubscribe_of_a_new_profile_the_template_made_is_held() -> None:
    p = plan(subscribe=None, new=True)
    assert kinds(p) == [GuardKind.UNSUBSCRIBE] and p.guard.confirm_needed


# --- row 3: a subscribe of someone UNSUBSCRIBED is held ---------------------------------------


@ACCOUNTS
@pytest.mark.parametrize("klist", [None, SMS_LIST, DOI_LIST], ids=["no list", "single", "double"])
@pytest.mark.parametrize("member", [False, None], ids=["non-member", "membership unknown"])
def test_a_resubscribe_of_someone_who_opted_out_is_held(
        klist: KlaviyoList | None, member: bool | None, account: PlanSettings) -> None:
    p = plan(UNSUBSCRIBED, klist=klist, member=member, account=account,
             sent={"": FRESH, DOI_LIST.id: FRESH})
    names = [None] if klist is None else [None, klist.name]
    assert [c.list_name for c in p.consent] == names
    # a pending consent email does not soften a re-subscribe: it needs the person's consent
    assert all(c.guard_kind is GuardKind.RESUBSCRIBE and c.risky and c.pending_since is None
               for c in p.consent)
    assert p.guard.held == {GuardKind.RESUBSCRIBE}
    assert all("who is UNSUBSCRIBED in Klaviyo" in r.text for r in p.guard.reasons)


def test_a_resubscribe_through_a_single_list_the_person_is_in_is_held() -> None:
    p = plan(UNSUBSCRIBED, klist=SMS_LIST, member=True)
    assert email(p, SMS_LIST.name).guard_kind is GuardKind.RESUBSCRIBE


# --- row 4: the first double opt-in consent email is sent, remembered, not held ---------------


@ACCOUNTS
@pytest.mark.parametrize("state", [SUBSCRIBED, NEVER, None])
@pytest.mark.parametrize("member", [False, None], ids=["non-member", "membership unknown"])
def test_the_first_consent_email_of_a_double_opt_in_list_is_sent_unheld(
        state: ConsentState | None, member: bool | None, account: PlanSettings) -> None:
    p = plan(state, klist=DOI_LIST, member=member, account=account)
    change = email(p, DOI_LIST.name)
    assert change.double_opt_in and change.guard_kind is GuardKind.CONSENT_EMAIL
    assert change.sends and not change.risky
    assert not p.guard.confirm_needed
    assert (f"Klaviyo emails {ANN} to confirm email marketing with list Newsletter "
            "(the list is double opt-in)") in [r.text for r in p.guard.reasons]


@pytest.mark.parametrize("state", [NEVER, None])
def test_a_subscribe_without_a_list_follows_the_account(state: ConsentState | None) -> None:
    double = email(plan(state, account=DOUBLE))
    assert double.double_opt_in and double.guard_kind is GuardKind.CONSENT_EMAIL
    assert "the account's double opt-in applies" in double.note
    single = email(plan(state, account=SINGLE))
    assert not single.double_opt_in and single.guard_kind is None
    assert "the account's single opt-in applies" in single.note


def test_a_new_profile_gets_the_consent_email_the_account_or_list_asks_for() -> None:
    assert kinds(plan(new=True, account=DOUBLE)) == [GuardKind.CONSENT_EMAIL]
    assert kinds(plan(new=True, account=SINGLE)) == []
    assert kinds(plan(new=True, account=SINGLE, klist=DOI_LIST)) == [GuardKind.CONSENT_EMAIL]
    assert kinds(plan(new=True, account=SINGLE, klist=SMS_LIST)) == []


def test_the_policy_may_hold_consent_emails_too() -> None:
    everything = PlanSettings(policy=ConsentPolicy(hold=frozenset(GuardKind)))
    p = plan(klist=DOI_LIST, account=everything)
    assert p.guard.held == {GuardKind.CONSENT_EMAIL} and p.guard.confirm_needed
    assert all(c.risky for c in p.consent)
    lenient = PlanSettings(policy=ConsentPolicy(hold=frozenset()))
    assert not plan(subscribe=None, account=lenient).guard.confirm_needed


# --- row 5: the same consent email while one is pending is never sent ------------------------


@ACCOUNTS
@pytest.mark.parametrize("state", [NEVER, SUBSCRIBED, None])
@pytest.mark.parametrize("member", [False, None], ids=["non-member", "membership unknown"])
def test_a_pending_consent_email_is_shown_and_not_sent_again(
        state: ConsentState | None, member: bool | None, account: PlanSettings) -> None:
    p = plan(state, klist=DOI_LIST, member=member, account=account, sent={DOI_LIST.id: FRESH})
    change = email(p, DOI_LIST.name)
    assert change.pending_since == FRESH and not change.sends
    assert change.guard_kind is None and not change.risky
    assert change.note.endswith("consent email sent 2026-12-01, awaiting confirmation")
    assert all("Newsletter" not in reason.text for reason in p.guard.reasons)
    assert change.to_json()["pending_since"] == FRESH


def test_a_pending_consent_email_without_a_list_is_not_sent_again() -> None:
    p = plan(NEVER, account=DOUBLE, sent={"": FRESH})
    assert email(p).pending_since == FRESH and p.guard.reasons == ()
    assert p.guard.fingerprint() == ""  # nothing runs


def test_a_pending_consent_email_runs_nothing_so_a_confirmation_does_not_cover_it() -> None:
    fresh = plan(klist=DOI_LIST, account=SINGLE, sent={DOI_LIST.id: FRESH})
    first = plan(klist=DOI_LIST, account=SINGLE, sent={})
    assert fresh.guard.fingerprint() != first.guard.fingerprint()


def test_an_expired_consent_email_is_sent_again() -> None:
    p = plan(klist=DOI_LIST, account=SINGLE, sent={DOI_LIST.id: EXPIRED})
    change = email(p, DOI_LIST.name)
    assert change.pending_since is None and change.guard_kind is GuardKind.CONSENT_EMAIL
    assert "the consent email sent 2026-10-01 is sent again" in change.note
    longer = PlanSettings(policy=ConsentPolicy(account_opt_in=SINGLE.policy.account_opt_in,
                                               resend_days=90))
    assert email(plan(klist=DOI_LIST, account=longer, sent={DOI_LIST.id: EXPIRED}),
                 DOI_LIST.name).pending_since == EXPIRED


def test_a_resend_the_operator_asked_for_is_sent() -> None:
    p = plan(klist=DOI_LIST, account=DOUBLE, sent={DOI_LIST.id: FRESH, "": FRESH}, resend=True)
    assert [c.guard_kind for c in p.consent] == [GuardKind.CONSENT_EMAIL] * 2
    assert all(c.sends for c in p.consent)


def test_a_consent_email_of_unknown_age_is_never_repeated() -> None:
    p = plan(klist=DOI_LIST, sent={DOI_LIST.id: "not a time"}, now="")
    assert email(p, DOI_LIST.name).pending_since == "not a time"


def test_someone_who_joined_the_list_needs_nothing_whatever_was_sent() -> None:
    p = plan(SUBSCRIBED, klist=DOI_LIST, member=True, sent={DOI_LIST.id: FRESH})
    assert p.consent == () and p.guard == p.guard.__class__()


# --- already subscribed and a member: nothing to do -------------------------------------------


@ACCOUNTS
@pytest.mark.parametrize("klist", [SMS_LIST, DOI_LIST], ids=["single", "double"])
def test_someone_subscribed_and_on_the_list_needs_nothing(
        klist: KlaviyoList, account: PlanSettings) -> None:
    p = plan(SUBSCRIBED, klist=klist, member=True, account=account, sms=True)
    assert p.consent == () and p.guard.reasons == () and p.unknown == ()


def test_a_double_opt_in_member_is_confirmed_or_pending_whatever_the_state() -> None:
    assert email(plan(NEVER, klist=DOI_LIST, member=True), DOI_LIST.name) is None


def test_a_single_opt_in_member_not_yet_subscribed_is_subscribed() -> None:
    change = email(plan(NEVER, klist=SMS_LIST, member=True), SMS_LIST.name)
    assert change is not None and change.guard_kind is None


# --- what the mode could not know -------------------------------------------------------------


def test_unknown_facts_are_named_and_the_plan_assumes_a_first_contact() -> None:
    p = plan(None, klist=DOI_LIST, member=None, sent=None, unknown=("consent state",))
    assert p.unknown == ("consent state", "list membership", "pending consent emails")
    assert email(p, DOI_LIST.name).guard_kind is GuardKind.CONSENT_EMAIL
    assert email(p).guard_kind is GuardKind.CONSENT_EMAIL  # as if NEVER_SUBSCRIBED


def test_only_the_facts_a_plan_needs_are_named_unknown() -> None:
    assert plan(SUBSCRIBED, member=None, sent=None).unknown == ()
    assert plan(new=True, member=None, sent=None).unknown == ()
    assert plan(new=True, unknown=("list membership",)).unknown == ("list membership",)


# --- the verdict --------------------------------------------------------------------------------


def test_the_guard_lists_every_guarded_change_and_holds_what_the_policy_holds() -> None:
    p = plan(UNSUBSCRIBED, klist=DOI_LIST, account=DOUBLE)
    assert kinds(p) == [GuardKind.RESUBSCRIBE, GuardKind.RESUBSCRIBE]
    q = plan(klist=DOI_LIST, account=DOUBLE)
    assert kinds(q) == [GuardKind.CONSENT_EMAIL, GuardKind.CONSENT_EMAIL]
    assert q.guard.held == frozenset() and q.guard.to_json() == {
        "confirm_needed": False,
        "reasons": [{"kind": "consent-email", "held": False, "text": r.text}
                    for r in q.guard.reasons]}
    assert set(p.guard.held) <= HELD_BY_DEFAULT


def test_the_fingerprint_names_the_consent_jobs_and_nothing_else() -> None:
    one = plan(klist=DOI_LIST)
    assert one.guard.fingerprint() == plan(klist=DOI_LIST).guard.fingerprint()
    assert len(one.guard.fingerprint()) == 16
    assert one.guard.fingerprint() != plan(klist=SMS_LIST).guard.fingerprint()
    reordered = replace(one.guard, operations=tuple(reversed(one.guard.operations)))
    assert reordered.fingerprint() == one.guard.fingerprint()
    assert plan(SUBSCRIBED).guard.fingerprint() == ""


def test_a_consent_email_sent_to_another_profile_does_not_count() -> None:
    target = profile(OTHER, email=NEVER, lists=None)
    batch_wide = {("01JSOMEONEELSE", DOI_LIST.id): FRESH, ("01JSOMEONEELSE", ""): FRESH}
    f = facts(email_match=target, consent_emails=batch_wide)
    p = plan_mapped(f, mapped(intents=(intent(DOI_LIST.name, consent=True, member=True),)),
                    None, DOUBLE)
    assert [c.guard_kind for c in p.consent] == [GuardKind.CONSENT_EMAIL] * 2
    assert all(c.pending_since is None for c in p.consent)
