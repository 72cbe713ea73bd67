"""Binding ids and default keys; users remap them in the config file's [keymap] table."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from textual.binding import Binding
from textual.keys import Keys, key_to_character
from textual.widgets import Input

# id -> (keys, footer label). The first key is the one the footer shows; the F-key comes first
# because terminals and tmux swallow some ctrl combinations (ctrl+enter arrives as ctrl+j).
DEFAULT_KEYS: dict[str, tuple[str, str]] = {
    "show-settings": ("f2", "Settings"),
    "recent": ("f3,ctrl+r", "Recent"),
    "show-lookup": ("f4,ctrl+l", "Lookup"),
    "push": ("f5,ctrl+j", "Push"),
    "resend_consent": ("ctrl+o", "Re-send consent"),
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
    "undo": ("f5,ctrl+z", "Undo"),
    "history-mark": ("space,f3", "Mark"),
    "history-mark-all": ("a,f10", "Mark all/none"),
    "confirm": ("y", "Push"),
    "undo-confirm": ("y", "Undo"),
    "cancel": ("escape,n", "Cancel"),
    "dialog-scroll-down": ("down", "Scroll"),
    "dialog-scroll-up": ("up", "Scroll up"),
    "dialog-page-down": ("pagedown", "Page down"),
    "dialog-page-up": ("pageup", "Page up"),
    "quit": ("ctrl+q", "Quit"),
}

# Which bindings are live together: the app's on every screen, plus one screen's own. Two
# bindings in one scope may not share a key. `True` marks a screen with a text field, whose
# editing keys never reach the screen while the field has focus.
APP_IDS = ("show-settings", "show-lookup", "show-errors", "show-history", "show-batch", "report",
           "quit")
DIALOG_SCROLL = ("dialog-scroll-down", "dialog-scroll-up", "dialog-page-down", "dialog-page-up")
SCOPES: dict[str, tuple[tuple[str, ...], bool]] = {
    "lookup": (("push", "resend_consent", "recent", "refresh"), True),
    "errors": (("retry", "retry-all", "next-page", "previous-page", "filter-kind",
                "filter-status", "refresh"), False),
    "history": (("refresh", "undo"), True),
    # The history table, focused: marking keys act only there, beside the screen's own.
    "history-table": (("refresh", "undo", "history-mark", "history-mark-all"), False),
    "batch": (("batch-start", "batch-cancel", "batch-all", "listen"), True),
    "settings": ((), False),
    "dialog": (("confirm", "cancel", *DIALOG_SCROLL), False),
    "undo-dialog": (("undo-confirm", "cancel", *DIALOG_SCROLL), False),
}
# Keys Textual keeps for itself: the command palette, interrupt, and moving focus.
RESERVED = {"ctrl+p": "the command palette", "ctrl+c": "copy and interrupt",
            "tab": "moving focus", "shift+tab": "moving focus"}
MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
NAMED_KEYS = frozenset(key.value.rsplit("+", 1)[-1] for key in Keys
                       if not key.value.startswith("<"))
FIELD_KEYS = frozenset(key.strip() for b in Input.BINDINGS if isinstance(b, Binding)
                       for key in b.key.split(","))


class KeymapError(ValueError):
    """A config file whose [keymap] table cannot be read at all."""


def binding(
    binding_id: str, action: str, *, show: bool = True, priority: bool = False,
    label: str | None = None,
) -> Binding:
    """A Binding whose keys and label (unless given) come from DEFAULT_KEYS under its id."""
    keys, default_label = DEFAULT_KEYS[binding_id]
    label = label or default_label
    return Binding(keys, action, label, show=show, priority=priority, id=binding_id,
                   tooltip=f"{label} (binding id {binding_id!r})")


def key_exists(key: str) -> bool:
    """Whether a terminal can send this key name (modifiers, then one named key or character)."""
    *modifiers, base = key.split("+")
    if not base or any(m not in MODIFIERS for m in modifiers):
        return False
    if base in NAMED_KEYS or (len(base) == 1 and base.isprintable() and not base.isspace()):
        return True
    return len(key_to_character(base) or "") == 1


def field_consumes(key: str) -> bool:
    """Whether a focused text field takes this key for editing or typing."""
    if key in FIELD_KEYS or key in ("space", "backspace", "delete", "enter"):
        return True
    *modifiers, base = key.split("+")
    typed = len(base) == 1 or len(key_to_character(base) or "") == 1
    return typed and set(modifiers) <= {"shift"}


def split_keys(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


def scopes_of(binding_id: str) -> list[str]:
    if binding_id in APP_IDS:
        return list(SCOPES)
    return [name for name, (ids, _field) in SCOPES.items() if binding_id in ids]


def check_keymap(table: Mapping[str, object],
                 *, where: str = "[keymap]") -> tuple[dict[str, str], list[str]]:
    """The overrides that are safe to apply, and one notice per refused binding (default kept)."""
    wanted: dict[str, list[str]] = {}
    refused: list[str] = []
    for binding_id, keys in table.items():
        if binding_id not in DEFAULT_KEYS:
            known = ", ".join(sorted(DEFAULT_KEYS))
            refused.append(f"{where}: unknown binding id {binding_id!r} ignored; known ids: "
                           f"{known}")
            continue
        names = split_keys(keys) if isinstance(keys, str) else []
        if not names:
            refused.append(f"{where}: {binding_id} must be a key name such as \"f5\" or "
                           f"\"ctrl+o,f5\", got {keys!r}; kept {DEFAULT_KEYS[binding_id][0]}")
            continue
        problem = key_problem(binding_id, names)
        if problem:
            refused.append(f"{where}: {binding_id} = {keys!r} refused: {problem}; kept "
                           f"{DEFAULT_KEYS[binding_id][0]}")
            continue
        wanted[binding_id] = names
    # A clash is judged against the keys in force once every accepted override applies.
    accepted: dict[str, str] = {}
    for binding_id, names in wanted.items():
        clash = clash_of(binding_id, names, {**effective_split(wanted), binding_id: names})
        if clash:
            refused.append(f"{where}: {binding_id} = {','.join(names)!r} refused: {clash}; "
                           f"kept {DEFAULT_KEYS[binding_id][0]}")
            continue
        accepted[binding_id] = ",".join(names)
    return accepted, refused


def key_problem(binding_id: str, names: list[str]) -> str:
    """Why these keys cannot serve the binding on their own ("" when they can)."""
    for key in names:
        if not key_exists(key):
            return f"{key!r} is not a key a terminal sends"
        if key in RESERVED:
            return f"{key} is kept for {RESERVED[key]}"
        if binding_id != "quit" and key == "ctrl+q":
            return "ctrl+q quits the console"
        in_dialog = any(scope.endswith("dialog") for scope in scopes_of(binding_id))
        if in_dialog and key in ("enter", "space"):
            return f"{key} presses the focused button in a dialog"
        field_scopes = [s for s in scopes_of(binding_id) if SCOPES[s][1]]
        if field_scopes and field_consumes(key):
            return (f"{key} is taken by the text field on the {field_scopes[0]} screen, so it "
                    f"would never reach the binding")
    return ""


def effective_split(overrides: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {bid: overrides.get(bid, split_keys(keys)) for bid, (keys, _l) in DEFAULT_KEYS.items()}


def clash_of(binding_id: str, names: list[str], keys: Mapping[str, list[str]]) -> str:
    """The other binding live in the same scope that these keys would shadow ("" if none)."""
    for scope in scopes_of(binding_id):
        ids, _field = SCOPES[scope]
        for other in (*APP_IDS, *ids):
            if other == binding_id:
                continue
            shared = set(names) & set(keys[other])
            if shared:
                return (f"{sorted(shared)[0]} is already bound to {other} "
                        f"({DEFAULT_KEYS[other][1]})")
    return ""


def parse_keymap(table: Mapping[str, object], *, where: str = "[keymap]") -> dict[str, str]:
    """The safe overrides of a {binding id: "key,key"} table (refusals dropped)."""
    return check_keymap(table, where=where)[0]


def keymap_table_from_file(path: Path | None) -> Mapping[str, object]:
    """The raw [keymap] table of a TOML config file ({} when there is no file or no table)."""
    if path is None or not Path(path).is_file():
        return {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KeymapError(f"{path}: {exc}") from None
    table = data.get("keymap", {})
    if not isinstance(table, dict):
        raise KeymapError(f"{path}: [keymap] must be a table of binding id = \"key\"")
    return table


def effective_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """Every binding id with the keys in force after the user's overrides."""
    return {bid: keymap.get(bid, keys) for bid, (keys, _label) in DEFAULT_KEYS.items()}


def key_name(keymap: Mapping[str, str], binding_id: str) -> str:
    """The first key in force for a binding, as the footer writes it (F5, ctrl+o)."""
    key = split_keys(keymap.get(binding_id, DEFAULT_KEYS[binding_id][0]))[0]
    return key.upper() if key[:1] == "f" and key[1:].isdigit() else key
