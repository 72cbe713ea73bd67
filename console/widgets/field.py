"""The lookup's customer field: Textual's Input, keeping control characters out of the value."""

from __future__ import annotations

import unicodedata

from textual.widgets import Input


def printable(text: str) -> str:
    """Text as a one-line field takes it: tabs as spaces, other control characters dropped."""
    return "".join(" " if character == "\t" else character for character in text
                   if character == "\t" or unicodedata.category(character) != "Cc")


class CustomerField(Input):
    """An Input whose typed, pasted and clipboard text never carries escape sequences."""

    def replace(self, text: str, start: int, end: int) -> None:
        # Every edit (a key, a paste, ctrl+v) arrives here; a pasted escape sequence would
        # otherwise sit in the value and be drawn to the operator's terminal.
        super().replace(printable(text), start, end)
