"""Binding ids and default keys; users remap them in the config file's [keymap] table."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from textual.binding import Binding

# id -> (keys, footer label). The first key is the one the footer shows; the F-key comes first
# because terminals and tmux swallow some ctrl combinations (ctrl+enter arrives as ctrl+j).
DEFAULT_KEYS: dict[str, tuple[str, str]] = {
    "show-settings": ("f2", "Settings"),
    "recent": ("f3,ctrl+r", "Recent"),
    "show-lookup": ("f4,ctrl+l", "Lookup"),
    "push": ("f5,ctrl+j", "Push"),
    "show-errors": ("f6", "Errors"),
    "show-history": ("f7", "History"),
    "show-batch": ("f8", "Batch"),
    "report": ("f12", "Report"),
    "refresh": ("f9", "Refresh"),
    "retry": ("r", "Retry"),
    "retry-all": ("a", "Retry all"),
    "next-page": ("n", "Next page"),
    "previous-page": ("p", "Prev page"),
    "filter-kind": ("k", "Kind"),
    "filter-status": ("s", "Status"),
    "batch-start": ("f5,ctrl+j", "Start"),
    "batch-cancel": ("f10,ctrl+b", "Cancel batch"),
    "batch-all": ("f3", "All customers"),
    "listen": ("ctrl+t,f11", "Listen"),
    "confirm": ("y", "Push"),
    "cancel": ("escape,n", "Cancel"),
}


class KeymapError(ValueError):
    """A [keymap] entry that names no binding or has no usable key."""


def binding(
    binding_id: str, action: str, *, show: bool = True, priority: bool = False
) -> Binding:
    """A Binding whose keys and label come from DEFAULT_KEYS under its id."""
    keys, label = DEFAULT_KEYS[binding_id]
    return Binding(keys, action, label, show=show, priority=priority, id=binding_id,
                   tooltip=f"{label} (binding id {binding_id!r})")


def parse_keymap(table: Mapping[str, object], *, where: str = "[keymap]") -> dict[str, str]:
    """Validate a {binding id: "key,key"} table; an unknown id or empty key is a KeymapError."""
    keymap: dict[str, str] = {}
    for binding_id, keys in table.items():
        if binding_id not in DEFAULT_KEYS:
            known = ", ".join(sorted(DEFAULT_KEYS))
            raise KeymapError(f"{where}: unknown binding id {binding_id!r}; known ids: {known}")
        if not isinstance(keys, str) or not keys.strip(" ,"):
            raise KeymapError(f"{where}: {binding_id} must be a key name such as \"f5\" or "
                              f"\"ctrl+p,f5\", got {keys!r}")
        keymap[binding_id] = ",".join(k.strip() for k in keys.split(",") if k.strip())
    return keymap


def keymap_from_file(path: Path | None) -> dict[str, str]:
    """The [keymap] table of a TOML config file ({} when there is no file or no table)."""
    if path is None or not Path(path).is_file():
        return {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KeymapError(f"{path}: {exc}") from None
    table = data.get("keymap", {})
    if not isinstance(table, dict):
        raise KeymapError(f"{path}: [keymap] must be a table of binding id = \"key\"")
    return parse_keymap(table, where=f"{path} [keymap]")


def effective_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """Every binding id with the keys in force after the user's overrides."""
    return {bid: keymap.get(bid, keys) for bid, (keys, _label) in DEFAULT_KEYS.items()}
