"""Lookup and preview of one customer, and the push that follows (design §10)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input

from console.keymap import binding, key_name
from console.screens.base import say, wait_engine
from console.screens.customer_search import IndexRefresh, choose_customer
from console.screens.recent import PickCustomerScreen
from console.widgets.field import CustomerField
from console.widgets.screenbar import ScreenBar
from console.widgets.status import StatusLine

if TYPE_CHECKING:
    from console.widgets.preview import PreviewPane
    from core.model import Plan


class PlanReady(Message):
    """A preview finished (or a kept one is shown while it refreshes: `age` in seconds)."""

    def __init__(self, plan: Plan, age: float | None = None, *, focus: bool = False) -> None:
        super().__init__()
        self.plan = plan
        self.age = age
        self.focus = focus  # the operator asked for it: focus the preview so paging works


class LookupFailed(Message):
    """A lookup found nothing or failed: the earlier preview must go."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PushPlanReady(Message):
    """A fresh plan of the customer on screen, to confirm before a push."""

    def __init__(self, plan: Plan, resend: bool) -> None:
        super().__init__()
        self.plan = plan
        self.resend = resend


def age_words(seconds: float) -> str:
    """How old a kept preview is, in the words the status line uses."""
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


class PushFinished(Message):
    """A push ended (ok, failed or held); the result is the engine's PushResult."""

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result


HINT = ("Enter a customer to preview what a push would send.  "
        "{recent} recent lookups · ctrl+p find customers · {errors} errors · {batch} batch")
EMPTY_FIELD = ("Type a customer id (such as 55260), an email or a name in the field, "
               "then press Enter.")
KEPT_PANES = 8  # customers whose drawn preview is kept for an instant switch back


class LookupScreen(Screen[None]):
    """Type an id, email or name; Enter previews; F5 pushes after a confirmation."""

    AUTO_FOCUS = "#customer"

    HELP = (
        "Type an iPaaS.com Customer id, an email or a name and press Enter to preview.\n\n"
        "F5 pushes the previewed customer after a confirmation; F3 opens recent lookups."
    )
    BINDINGS = [
        binding("push", "push"),
        binding("resend_consent", "resend_consent"),
        binding("recent", "recent"),
        binding("show-lookup", "focus_lookup", show=False),
        binding("refresh", "refresh"),
    ]

    # The screen draws none of these itself (its widgets show the plan): a repaint redrew the
    # whole screen, every widget, on each switch between customers.
    pushing: reactive[bool] = reactive(False, bindings=True, repaint=False)
    stale: reactive[bool] = reactive(False, bindings=True, repaint=False)  # kept plan, refreshing
    plan: reactive[Plan | None] = reactive(None, bindings=True, always_update=True,
                                           repaint=False)

    def __init__(self) -> None:
        super().__init__()
        self.panes: dict[str, PreviewPane] = {}

    def compose(self) -> ComposeResult:
        # A preview pane mounts with its first plan.
        yield ScreenBar("lookup")
        yield CustomerField(placeholder="Customer id, email or name, then Enter", id="customer")
        hint = HINT.format(recent=self.key("recent"), errors=self.key("show-errors"),
                           batch=self.key("show-batch"))
        yield StatusLine(id="status", hint=hint)
        yield Footer()

    # ----------------------------------------------------------------- lookup and preview

    @on(Input.Submitted, "#customer")
    def lookup_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if not query:
            self.set_status(EMPTY_FIELD)
            self.notify(EMPTY_FIELD, severity="warning", markup=False)
            return
        self.preview_from(query)

    @on(Input.Changed, "#customer")
    def field_changed(self) -> None:
        self.refresh_bindings()  # F5 says whether it acts on the customer in the field

    def show_retry(self, text: str) -> bool:
        """While this screen's own call is busy, its status line names the wait, not a toast."""
        status = self.query_one("#status", StatusLine)
        if not status.busy:
            return False
        self.set_status(text, busy=True)
        return True

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self.action_focus_lookup()

    def on_key(self, event: events.Key) -> None:
        # Typing while the preview has focus starts a new lookup rather than vanishing.
        field = self.query_one("#customer", Input)
        if field.has_focus or not event.is_printable or not (event.character or "").strip():
            return
        event.stop()
        self.set_focus(field)
        # Behind the field's focus event, whose select-on-focus would select the typed key.
        field.call_next(self.start_typing, event.character or "")

    def start_typing(self, text: str) -> None:
        field = self.query_one("#customer", Input)
        field.value = text
        field.cursor_position = len(text)

    def preview_from(self, query: str) -> None:
        """A kept plan at once, its refresh after that frame is drawn; else a plain lookup."""
        if self.show_kept(query):
            self.call_after_refresh(self.lookup, query, kept=True)
        else:
            self.lookup(query)

    def show_kept(self, customer_id: str) -> bool:
        """Show the last plan of an already-previewed customer at once, marked with its age."""
        app: Any = self.app
        kept = app.plans.get(customer_id)
        if kept is None:
            return False
        plan, at = kept
        self.on_plan_ready(PlanReady(plan, age=time.monotonic() - at, focus=True))
        return True

    def set_status(self, text: str, *, busy: bool = False) -> None:
        status = self.query_one("#status", StatusLine)
        status.update(Content(text))  # customer data in the words is never markup
        status.busy = busy

    def key(self, binding_id: str) -> str:
        """The key in force for a binding, for the words on screen."""
        return key_name(getattr(self.app, "keymap", {}), binding_id)

    def on_lookup_failed(self, message: LookupFailed) -> None:
        """Nothing of an earlier customer stays on screen once the field asks for another."""
        self.plan = None
        self.stale = False
        for pane in self.panes.values():
            pane.display = False
        app: Any = self.app
        app.current_customer = None
        self.set_status(message.text)

    @work(exclusive=True, group="lookup", exit_on_error=False)
    async def lookup(self, query: str, *, kept: bool = False) -> None:
        """Resolve the query to one customer id and preview it (quietly behind a kept plan)."""
        if not kept:
            self.set_status(f"Looking up {query}…", busy=True)
        try:
            engine = await wait_engine(self.app)
            customer_id = query
            from console.widgets.words import looks_like_id

            if not looks_like_id(query):
                picked, why = await choose_customer(self, engine, query)
                if picked is None:
                    self.post_message(LookupFailed(why))
                    return
                customer_id = picked
            if not kept:
                self.set_status(f"Previewing customer {customer_id}…", busy=True)
            plan = await engine.preview(customer_id)
        except Exception as exc:  # an engine failure is a message, never a crash
            self.post_message(LookupFailed(f"Preview of {query} failed: {say(exc)}"))
            self.notify(say(exc), title="Preview failed", severity="error", markup=False)
            return
        self.post_message(PlanReady(plan, focus=not kept))

    def search_from_palette(self, query: str) -> None:
        """The palette's "N more match": the query in the field, its hits in the pick list."""
        self.query_one("#customer", Input).value = query
        self.lookup(query)

    @on(events.Mount)
    def start_index(self) -> None:
        self.customer_index = IndexRefresh(self)
        self.refresh_index()

    @work(group="customer-index", exit_on_error=False)
    async def refresh_index(self, force: bool = False) -> None:
        """The customer index refreshed after launch (when empty or old) or when asked."""
        try:
            engine = await wait_engine(self.app)
        except Exception:
            return  # the engine's failure is reported where it opens
        await self.customer_index.run(engine, force=force)

    def on_plan_ready(self, message: PlanReady) -> None:
        # The preview's modules load with the first plan, not before the lookup is drawn.
        from console.widgets.words import route_title

        plan = message.plan
        self.stale = message.age is not None
        self.plan = plan
        self.query_one("#status", StatusLine).hint = ""
        self.show_pane(plan)
        app: Any = self.app
        app.current_customer = plan.customer_id
        if message.age is not None:
            self.set_status(f"Preview of customer {plan.customer_id} from "
                            f"{age_words(message.age)}: {route_title(plan)}. Refreshing…")
            # The spinner waits for the kept plan's frame: showing it re-lays the status bar.
            self.call_after_refresh(self.show_refreshing)
        else:
            self.set_status(f"Preview of customer {plan.customer_id}: {route_title(plan)}. "
                            + ("" if plan.blocked else f"{self.key('push')} to push."))
            app.remember(plan)
        customer = self.query_one("#customer", Input)
        if customer.value != plan.customer_id:
            customer.value = plan.customer_id
        if message.focus:
            self.panes[plan.customer_id].focus()  # PageDown pages the preview at once

    def show_pane(self, plan: Plan) -> None:
        """Display the customer's own pane, drawn already if the customer was shown before.

        Switching between customers only changes which pane is displayed, so nothing in a
        pane is redrawn (Textual reuses a widget's rendered lines while it is unchanged). The
        displayed pane is kept first among the panes, so queries such as `#route` find it.
        """
        from console.widgets.preview import PreviewPane

        pane = self.panes.pop(plan.customer_id, None)
        first = next(iter(self.query(PreviewPane)), None)
        if pane is None:
            pane = PreviewPane(plan)
            if first is not None:
                self.mount(pane, before=first)
            else:
                self.mount(pane, after=self.query_one("#status"))
        else:
            if pane.plan is not plan:
                pane.show(plan)
            if first is not None and first is not pane:
                self.move_child(pane, before=first)
        self.panes[plan.customer_id] = pane  # the most recent last
        for other in self.panes.values():
            other.display = other is pane
        while len(self.panes) > KEPT_PANES:
            self.panes.pop(next(iter(self.panes))).remove()

    def show_refreshing(self) -> None:
        """The busy indicator beside a kept plan, unless its refresh has already landed."""
        if self.stale:
            self.query_one("#status", StatusLine).busy = True

    def action_refresh(self) -> None:
        if self.plan is not None:
            self.lookup(self.plan.customer_id)

    def action_focus_lookup(self) -> None:
        """The field, its old text selected so typing replaces it."""
        field = self.query_one("#customer", Input)
        field.focus()
        field.select_all()

    def action_recent(self) -> None:
        app: Any = self.app

        def chosen(customer_id: str | None) -> None:
            if customer_id:
                self.query_one("#customer", Input).value = customer_id
                self.preview_from(customer_id)

        self.app.push_screen(PickCustomerScreen("Recent lookups", list(app.recent.items)),
                             chosen)

    def preview_customer(self, customer_id: str) -> None:
        """Entry point for the command palette and other screens."""
        self.query_one("#customer", Input).value = customer_id
        self.preview_from(customer_id)

    # ----------------------------------------------------------------------------- push

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        plan = self.plan
        if action in ("push", "resend_consent"):
            if plan is None:
                return False  # hidden: nothing on screen to push
            from console.widgets.words import wants_consent_email

            if action == "resend_consent" and not wants_consent_email(plan):
                return False
            if self.pushing or self.stale:
                return None  # shown dimmed: the key exists but cannot run now
            return True  # a blocked plan or an edited field: the key says why
        if action == "refresh" and plan is None:
            return None
        return True

    def push_refusal(self) -> str:
        """Why a push cannot start now ("" when it can)."""
        plan = self.plan
        if plan is None:
            return "Nothing to push: look a customer up first."
        if self.pushing:
            return f"A push of customer {plan.customer_id} is still running."
        if self.stale:
            return f"Customer {plan.customer_id} is being refreshed; push once it is shown."
        field = self.query_one("#customer", Input).value.strip()
        if field and field != plan.customer_id:
            return (f"The field asks for '{field}' but customer {plan.customer_id} is shown: "
                    "press Enter to preview it first.")
        if plan.blocked:
            return (f"Customer {plan.customer_id} is BLOCKED: nothing can be pushed until the "
                    "reason shown is fixed in iPaaS.com.")
        return ""

    def action_push(self) -> None:
        self.start_push(resend=False)

    def action_resend_consent(self) -> None:
        self.start_push(resend=True)

    def start_push(self, *, resend: bool) -> None:
        refusal = self.push_refusal()
        if refusal:
            self.set_status(refusal)
            self.notify(refusal, severity="warning", markup=False)
            return
        assert self.plan is not None
        self.fresh_plan(self.plan.customer_id, resend)

    @work(exclusive=True, group="lookup", exit_on_error=False)
    async def fresh_plan(self, customer_id: str, resend: bool) -> None:
        """Plan the customer on screen again, so the dialog confirms what the push will do."""
        self.set_status(f"Checking customer {customer_id} before the push…", busy=True)
        try:
            engine = await wait_engine(self.app)
            plan = await engine.preview(customer_id)
        except Exception as exc:
            self.set_status(f"Push not started: preview of {customer_id} failed: {say(exc)}")
            self.notify(say(exc), title="Push not started", severity="error", markup=False)
            return
        self.post_message(PushPlanReady(plan, resend))

    def on_push_plan_ready(self, message: PushPlanReady) -> None:
        plan = message.plan
        self.on_plan_ready(PlanReady(plan))
        if plan.blocked:
            self.start_push(resend=message.resend)  # says why, in the same words as F5
            return
        from console.screens.confirm import PushConfirmScreen

        def answered(confirmed: bool | None) -> None:
            self.push_confirmed(plan, bool(confirmed), message.resend)

        self.app.push_screen(PushConfirmScreen(plan, resend=message.resend), answered)

    def push_confirmed(self, plan: Plan, confirmed: bool, resend: bool) -> None:
        if not confirmed:
            text = f"Push of customer {plan.customer_id} cancelled: nothing was sent."
            self.set_status(text)
            self.notify(text, title="Push cancelled", markup=False)
            return
        if self.pushing:
            return
        from console.widgets.words import held_kinds

        self.pushing = True
        self.push(plan.customer_id, held_kinds(plan), resend)

    @work(group="push", exit_on_error=False)
    async def push(self, customer_id: str, kinds: frozenset[Any], resend: bool) -> None:
        """Push one customer; never exclusive, so a key press cannot cancel a write."""
        self.set_status(f"Pushing customer {customer_id}…", busy=True)
        try:
            engine = await wait_engine(self.app)
            # Only the kinds the dialog showed: a plan that changed since is held, not pushed.
            result = await engine.push(customer_id, confirm=kinds,
                                       resend_consent_email=resend)
        except Exception as exc:
            self.pushing = False
            self.set_status(f"Push failed: {say(exc)}")
            self.notify(say(exc), title="Push failed", severity="error", markup=False)
            return
        self.post_message(PushFinished(result))

    def on_push_finished(self, message: PushFinished) -> None:
        self.pushing = False
        cid = message.result.plan.customer_id
        from console.widgets.words import push_outcome

        title, text, severity = push_outcome(message.result, self.key("show-errors"))
        self.notify(text, title=title, severity=severity, markup=False)
        self.set_status(text)
        self.refresh_after_push(cid, text)

    @work(exclusive=True, group="lookup", exit_on_error=False)
    async def refresh_after_push(self, customer_id: str, outcome: str) -> None:
        """Preview again so the screen shows the new state (a created customer now UPDATEs)."""
        try:
            engine = await wait_engine(self.app)
            plan = await engine.preview(customer_id)
        except Exception as exc:
            self.notify(say(exc), title="Refresh failed", severity="error", markup=False)
            return
        from console.widgets.words import route_title

        self.post_message(PlanReady(plan))
        self.call_after_refresh(self.set_status, f"{outcome}  Now: {route_title(plan)}.")
