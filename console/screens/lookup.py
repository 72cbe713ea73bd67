"""Lookup and preview of one customer, and the push that follows (design §10)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input

from console.keymap import binding
from console.screens.base import say, wait_engine
from console.screens.recent import PickCustomerScreen
from console.widgets.field import CustomerField
from console.widgets.screenbar import ScreenBar
from console.widgets.status import StatusLine

if TYPE_CHECKING:
    from console.widgets.preview import PreviewPane
    from core.model import Plan


class PlanReady(Message):
    """A preview finished (or a kept one is shown while it refreshes: `age` in seconds)."""

    def __init__(self, plan: Plan, age: float | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.age = age


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


def looks_like_id(query: str) -> bool:
    """iPaaS.com Customer ids (Manual Sync format) are whole numbers."""
    return query.isdigit()


HINT = ("Enter a customer to preview what a push would send.  "
        "F3 recent lookups · ctrl+p search customers · F6 errors · F8 batch")
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
        yield StatusLine(id="status", hint=HINT)
        yield Footer()

    # ----------------------------------------------------------------- lookup and preview

    @on(Input.Submitted, "#customer")
    def lookup_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if not query:
            self.notify("Type a customer id, an email or a name first.", severity="warning")
            return
        self.preview_from(query)

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
        self.on_plan_ready(PlanReady(plan, age=time.monotonic() - at))
        return True

    def set_status(self, text: str, *, busy: bool = False) -> None:
        status = self.query_one("#status", StatusLine)
        status.update(text)
        status.busy = busy

    @work(exclusive=True, group="lookup", exit_on_error=False)
    async def lookup(self, query: str, *, kept: bool = False) -> None:
        """Resolve the query to one customer id and preview it (quietly behind a kept plan)."""
        if not kept:
            self.set_status(f"Looking up {query}…", busy=True)
        try:
            engine = await wait_engine(self.app)
            customer_id = query
            if not looks_like_id(query):
                found = await engine.search_customers(query)
                if not found:
                    self.set_status(f"No customer matches {query!r}.")
                    self.notify(f"No customer matches {query!r}.", severity="warning",
                                markup=False)
                    return
                if len(found) == 1:
                    customer_id = found[0].id
                else:
                    choices = [(c.id, f"{c.display_name} <{c.email_address or '-'}>")
                               for c in found[:50]]
                    picked = await self.app.push_screen_wait(
                        PickCustomerScreen(f"{len(found)} customers match {query!r}", choices)
                    )
                    if picked is None:
                        self.set_status("")
                        return
                    customer_id = picked
            if not kept:
                self.set_status(f"Previewing customer {customer_id}…", busy=True)
            plan = await engine.preview(customer_id)
        except Exception as exc:  # an engine failure is a message, never a crash
            self.set_status(f"Preview failed: {say(exc)}")
            self.notify(say(exc), title="Preview failed", severity="error", markup=False)
            return
        self.post_message(PlanReady(plan))

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
                            + ("Blocked: nothing can be sent." if plan.blocked
                               else "F5 to push."))
            app.remember(plan)
        customer = self.query_one("#customer", Input)
        if customer.value != plan.customer_id:
            customer.value = plan.customer_id

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
        self.query_one("#customer", Input).focus()

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
        if action == "push" and (
            self.pushing or self.stale or self.plan is None or self.plan.blocked
        ):
            return None  # shown dimmed: the key exists but cannot run now
        if action == "refresh" and self.plan is None:
            return None
        return True

    def action_push(self) -> None:
        plan = self.plan
        if plan is None or plan.blocked or self.pushing or self.stale:
            return  # a kept plan is never confirmed: its refresh may differ
        from console.screens.confirm import PushConfirmScreen

        self.app.push_screen(PushConfirmScreen(plan), self.push_confirmed)

    def push_confirmed(self, confirmed: bool | None) -> None:
        if confirmed and self.plan is not None and not self.pushing:
            self.pushing = True
            self.push(self.plan.customer_id)

    @work(group="push", exit_on_error=False)
    async def push(self, customer_id: str) -> None:
        """Push one customer; never exclusive, so a key press cannot cancel a write."""
        self.set_status(f"Pushing customer {customer_id}…", busy=True)
        try:
            engine = await wait_engine(self.app)
            result = await engine.push(customer_id, confirmed=True)
        except Exception as exc:
            self.pushing = False
            self.set_status(f"Push failed: {say(exc)}")
            self.notify(say(exc), title="Push failed", severity="error", markup=False)
            return
        self.post_message(PushFinished(result))

    def on_push_finished(self, message: PushFinished) -> None:
        result = message.result
        self.pushing = False
        cid = result.plan.customer_id
        if result.ok:
            text = f"Pushed customer {cid} to profile {result.profile_id}."
            self.notify(text, title="Push done")
        elif result.held:
            text = f"Customer {cid} held by the consent guard; nothing was sent."
            self.notify(text, title="Push held", severity="warning")
        else:
            error = result.error
            detail = error.message if error is not None else "see the error log (F6)"
            text = f"Push of customer {cid} failed: {detail}"
            self.notify(text, title="Push failed", severity="error", markup=False)
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
