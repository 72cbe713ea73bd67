"""Secrets scrubbed from every error message, whole or cut off at either end."""

from __future__ import annotations

from collections.abc import Iterable

_REDACTED = "[redacted]"

# Every credential any client in this process was given: an answer from one service may
# echo another service's secret (a proxy page, a misrouted request), so all are scrubbed.
_KNOWN_SECRETS: set[str] = set()


def register_secret(secret: str) -> None:
    """Add a credential to those scrubbed from every error message."""
    if secret and len(secret) >= 4:
        _KNOWN_SECRETS.add(secret)


def redact(text: str | None, secrets: Iterable[str] = ()) -> str | None:
    """The text with every given or registered secret replaced; None stays None."""
    if text is None:
        return None
    for secret in sorted({*secrets, *_KNOWN_SECRETS}, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = _redact_cut(text.replace(secret, _REDACTED), secret)
    return text


# A body cut off mid-secret (a dropped connection, a truncated echo) ends with a prefix of it;
# one cut at the front starts with a suffix. Pieces this long are never innocent text.
_MIN_PIECE = 6


def _redact_cut(text: str, secret: str) -> str:
    for size in range(len(secret) - 1, _MIN_PIECE - 1, -1):
        if text.endswith(secret[:size]):
            text = text[:-size] + _REDACTED
            break
    for size in range(len(secret) - 1, _MIN_PIECE - 1, -1):
        if text.startswith(secret[-size:]):
            text = _REDACTED + text[size:]
            break
    return text
