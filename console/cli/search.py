"""`klaviyo-console search TEXT`: customers by id, or by a whole or partial email or name."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from console.cli.base import FAILED, OK

if TYPE_CHECKING:
    from core.engine import Engine
    from core.engine.customer_index import CustomerSearch


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `search` subcommand's arguments."""
    p = sub.add_parser("search", parents=[common],
                       help="find customers by id, or by a whole or partial email or name")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--refresh", action="store_true",
                   help="first read every customer from iPaaS.com into the local index")
    p.add_argument("--json", action="store_true")


async def run(ns: argparse.Namespace, engine: Engine) -> int:
    """Print the hits, exact ones first; exit 1 when nothing matched."""
    # Imported here: building the parser must not load the engine (or rich) for other commands.
    from console.cli.common import out, print_json, say
    from console.search_words import index_words, more_words

    if ns.refresh:
        status = await engine.refresh_customer_index()
        if status is not None:
            say(f"customer index refreshed: {status.customers:,} customers", style="dim")
    found = await engine.search_customers(ns.text)
    if ns.json:
        print_json(found.to_json())
    else:
        if found.hits:
            out().print(_view(found))
        if found.live_error:
            say(f"iPaaS.com's exact search failed ({found.live_error}); these are the local "
                "index's suggestions", style="yellow")
        if found.more:
            say(more_words(found), style="dim")
        if not found.hits:
            if found.index is None:
                say(f"no customer {found.query} in iPaaS.com")
            else:
                say(f"no customer matches '{found.query}': "
                    f"{index_words(found.index, 'run search again with --refresh')}")
    return OK if found.hits else FAILED


def _view(found: CustomerSearch) -> Any:
    from console.render import Column, Listing, plain

    columns = [Column("id"), Column("name", wrap=True), Column("email"),
               Column("matched on", wrap=True)]
    rows = [[plain(hit.id), plain(hit.display_name), plain(hit.email_address or "-"),
             plain(hit.why if hit.exact else f"{hit.why} (index)")] for hit in found.hits]
    return Listing(columns, rows)
