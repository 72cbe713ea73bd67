"""The `klaviyo-console` command line (placeholder until the engine lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] != "--sandbox":
        print(f"klaviyo-console: unknown command {args[0]!r}", file=sys.stderr)
        return 2
    from console.app import ConsoleApp

    ConsoleApp().run()
    return 0
