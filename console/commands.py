"""Command palette: find customers through the engine and jump to recent lookups."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from console.search_words import REFRESH_INDEX, index_words

if TYPE_CHECKING:
    from core.engine.customer_index import CustomerHit, CustomerSearch

PALETTE_PLACEHOLDER = "Find a customer (id, email or name) or a command…"
REFRESH_HELP = "Read every customer from iPaaS.com, so parts of emails and names find them"
PALETTE_HITS = 20


def customer_label(customer: CustomerHit) -> str:
    email = f" <{customer.email_address}>" if customer.email_address else ""
    return f"customer {customer.id}: {customer.display_name}{email}"


class CustomerCommands(Provider):
    """ctrl+p then an id, email or name: the engine's customer search as palette hits."""

    async def discover(self) -> Hits:
        app: Any = self.app
        for customer_id, label in app.recent.items:
            yield DiscoveryHit(
                Content(f"preview: {customer_id} {label}"),
                partial(app.preview_customer, customer_id),
                help="Recent lookup",
            )
        yield DiscoveryHit(REFRESH_INDEX, partial(refresh_index, app), help=REFRESH_HELP)

    async def search(self, query: str) -> Hits:
        app: Any = self.app
        query = query.strip()
        matcher = self.matcher(query)
        refresh_score = matcher.match(REFRESH_INDEX)
        if refresh_score > 0:
            yield Hit(refresh_score, matcher.highlight(REFRESH_INDEX),
                      partial(refresh_index, app), help=REFRESH_HELP)
        if len(query) < 2 or app.engine is None:
            return
        try:
            found: CustomerSearch = await app.engine.search_customers(query)
        except Exception:  # a failing search just yields no hits; the palette stays usable
            return
        for hit in found.hits[:PALETTE_HITS]:
            text = f"preview: {customer_label(hit)}"
            # The engine already matched; keep every hit, ranked by how well the text matches.
            score = max(matcher.match(text), 0.1)
            source = "iPaaS.com" if hit.exact else "the customer index"
            # Escaped: the highlighter reads markup, and a customer's name is never markup.
            yield Hit(score, matcher.highlight(escape(text)),
                      partial(app.preview_customer, hit.id),
                      help=f"Matched on {hit.why} ({source}); Enter previews it")
        hidden = found.total - min(len(found.hits), PALETTE_HITS)
        if hidden > 0:
            plus = "+" if found.more_is_lower_bound else ""
            yield Hit(0.05, Content(f"{hidden:,}{plus} more customers match '{query}'"),
                      partial(search_on_lookup, app, query),
                      help="Enter lists them in the lookup; or type more of it")
        elif not found.hits and found.index is not None:
            yield Hit(0.05, Content(f"No customer matches '{query}': {REFRESH_INDEX.lower()}"),
                      partial(refresh_index, app), help=index_words(found.index))


def refresh_index(app: Any) -> None:
    """Refresh the customer index from the lookup, whose status line follows it."""
    on_lookup(app, lambda screen: screen.refresh_index(force=True))


def search_on_lookup(app: Any, query: str) -> None:
    """Run the query in the lookup field, where every hit can be picked."""
    on_lookup(app, lambda screen: screen.search_from_palette(query))


def on_lookup(app: Any, then: Any) -> None:
    app.switch_mode("lookup")

    def run() -> None:
        from console.screens.lookup import LookupScreen

        if isinstance(app.screen, LookupScreen):
            then(app.screen)

    app.call_after_refresh(run)
