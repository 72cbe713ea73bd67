"""Command palette: find customers through the engine and jump to recent lookups."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

if TYPE_CHECKING:
    from core.model import Customer

PALETTE_PLACEHOLDER = "Find a customer (id, email or name) or a command…"


def customer_label(customer: Customer) -> str:
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

    async def search(self, query: str) -> Hits:
        app: Any = self.app
        query = query.strip()
        if len(query) < 2 or app.engine is None:
            return
        matcher = self.matcher(query)
        try:
            found = await app.engine.search_customers(query)
        except Exception:  # a failing search just yields no hits; the palette stays usable
            return
        for customer in found[:20]:
            text = f"preview: {customer_label(customer)}"
            # The engine already matched; keep every hit, ranked by how well the text matches.
            score = max(matcher.match(text), 0.1)
            # Escaped: the highlighter reads markup, and a customer's name is never markup.
            yield Hit(score, matcher.highlight(escape(text)),
                      partial(app.preview_customer, customer.id), help="Preview this customer")
