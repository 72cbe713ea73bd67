"""The last line of defence against a configured secret ending up in a stored record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def secret_field(value: Any, secrets: Sequence[str], path: str = "") -> str | None:
    """The dotted path of the first key or text in `value` that contains one of `secrets`."""
    if isinstance(value, str):
        return path or "(value)" if any(s in value for s in secrets) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and any(s in key for s in secrets):
                # The key itself is the secret's carrier: name where it is, not what it is.
                return f"{path}.<a key>" if path else "<a key>"
            here = f"{path}.{key}" if path else str(key)
            found = secret_field(item, secrets, here)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = secret_field(item, secrets, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def usable_secrets(secrets: Sequence[str]) -> tuple[str, ...]:
    """The secrets worth matching: an empty value would match every record."""
    return tuple(s for s in (str(x).strip() for x in secrets) if s)


def refuse_secrets(what: str, record: Any, secrets: Sequence[str]) -> None:
    """Raise ValueError naming the field of `record` that holds a secret (never the secret)."""
    if not secrets:
        return
    field = secret_field(record, secrets)
    if field is not None:
        raise ValueError(
            f"refusing to store {what}: field {field!r} holds a configured API key or token; "
            "remove it from the record before storing"
        )
