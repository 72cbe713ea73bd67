"""The mapping template: a TOML file of ordered rows per collection, checked and compiled at load.

File format (see default.toml for the shipped template):

    [add]
    on_match = "patch"            # or "link-only": a matched profile is linked, not patched
    [[add.mappings]]
    destination = "Email"         # a profile field, SubscribeProfile, LIST_x, UCLIST_x, a property
    kind = "field"                # static (value = ..), field (source = ..), formula (formula = ..)
    source = "EmailAddress"
    [update]
    ...

Custom-field conventions (spec "Custom Field Support"):
- SubscribeProfile, LIST_{list name}, UCLIST_{list name} take true or false: TOML booleans, or
  the text "true"/"false" in any case with surrounding spaces ignored. Nothing else is accepted
  (not yes/no, not 1/0: the design says true/false, and guessing about consent is unsafe);
  any other value is a mapping error naming the destination and the value.
- An empty LIST_/UCLIST_ value means "no intent": the list is left alone. An empty
  SubscribeProfile counts as unmapped, which the spec says unsubscribes; a warning says so.
- Any other destination that is not a Klaviyo profile field goes to `properties`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from core.mapping.formula import Call, FieldRef
from core.mapping.rows import (
    ATTRIBUTES,
    KIND_KEYS,
    LOCATION,
    Row,
    RowError,
    Step,
    compile_row,
    parse_flag,
)
from core.model import Collection


class TemplateError(ValueError):
    """A template that cannot be used; the message names the file and the line."""


KINDS = ("static", "field", "formula")
_ROW_KEYS = frozenset({"destination", "kind", "value", "source", "formula", "description"})
ON_MATCH = ("patch", "link-only")


@dataclass(frozen=True, eq=False)
class CompiledCollection:
    """One collection's rows as written, and the steps that apply them, in order."""

    collection: Collection
    on_match: str
    rows: tuple[Row, ...]
    steps: tuple[Step, ...]
    list_names: tuple[str, ...]
    maps_subscribe: bool


@dataclass(frozen=True, eq=False)
class Template:
    """Both collections of a loaded template, each row compiled into its step."""

    source: str
    add: CompiledCollection
    update: CompiledCollection

    def collection(self, collection: Collection) -> CompiledCollection:
        return self.add if collection is Collection.ADD else self.update

    def on_match(self, collection: Collection) -> str:
        """"patch" or "link-only": what a match by email or phone does with this collection."""
        return self.collection(collection).on_match

    def rows(self, collection: Collection) -> tuple[Row, ...]:
        return self.collection(collection).rows

    @cached_property
    def identifiers_agree(self) -> bool:
        """True when both collections map Email and PhoneNumber by the same rows, without link():
        then a customer's email and phone are the same whichever collection maps it."""
        def rows(compiled: CompiledCollection) -> dict[str, tuple[str, str]]:
            return {folded: (row.kind, row.text) for row in compiled.rows
                    if (folded := row.destination.casefold().replace(" ", ""))
                    in ("email", "phonenumber")}

        add, update = rows(self.add), rows(self.update)
        return add == update and not any("link(" in text.replace(" ", "").lower()
                                         for _, text in add.values())

    def list_names(self, collection: Collection | None = None) -> tuple[str, ...]:
        """Klaviyo list names the LIST_/UCLIST_ rows name (both collections when None)."""
        if collection is not None:
            return self.collection(collection).list_names
        return tuple(dict.fromkeys((*self.add.list_names, *self.update.list_names)))


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

DEFAULT_NAME = "default.toml"


def load_template(path: Path | None = None) -> Template:
    """Load and compile a template file; None loads the shipped default."""
    if path is None:
        text = resources.files("core.mapping").joinpath(DEFAULT_NAME).read_text(encoding="utf-8")
        return parse_template(text, source=f"core/mapping/{DEFAULT_NAME}")
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"{source}: template file not found") from None
    except IsADirectoryError:
        raise TemplateError(f"{source}: is a folder, not a template file") from None
    except UnicodeDecodeError:
        raise TemplateError(f"{source}: is not UTF-8 text") from None
    except OSError as exc:
        raise TemplateError(f"{source}: cannot be read ({exc.strerror})") from None
    return parse_template(text, source=source)


_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def parse_template(text: str, *, source: str = "template") -> Template:
    """Check and compile template text; every problem is a TemplateError naming source:line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _AT_LINE.search(message)
        if found:
            where = f"{source}:{found.group(1)}"
            message = f"{_AT_LINE.sub('', message)} (column {found.group(2)})"
        else:
            where = source
        raise TemplateError(f"{where}: not valid TOML: {message}") from None
    lines = _Lines(text, source)
    for key in data:
        if key not in ("add", "update"):
            raise lines.error(
                lines.find_key(key),
                f"unknown section {key!r}; a template has [add] and [update] only",
            )
    add = _collection(data, Collection.ADD, lines)
    update = _collection(data, Collection.UPDATE, lines)
    return Template(source=source, add=add, update=update)


class _Lines:
    """Finds the line of a row or key, for messages (tomllib reports lines for syntax only)."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def error(self, line: int, message: str) -> TemplateError:
        return TemplateError(f"{self.source}:{line}: {message}")

    def find_key(self, key: str) -> int:
        pattern = re.compile(rf"^\s*\[*\s*[\"']?{re.escape(key)}\b")
        return next((i + 1 for i, line in enumerate(self.lines) if pattern.match(line)), 1)

    def row_lines(self, collection: str, count: int, destinations: list[str]) -> list[int]:
        header = re.compile(rf"^\s*\[\[\s*{collection}\s*\.\s*mappings\s*\]\]")
        starts = [i + 1 for i, line in enumerate(self.lines) if header.match(line)]
        if len(starts) == count:
            return starts
        # Rows written inline (mappings = [ {...}, ... ]): find each destination's text in order.
        found: list[int] = []
        position = self.find_key(collection) - 1
        for destination in destinations:
            quoted = (f'"{destination}"', f"'{destination}'")
            for index in range(position, len(self.lines)):
                if any(q in self.lines[index] for q in quoted):
                    found.append(index + 1)
                    position = index + 1
                    break
            else:
                found.append(self.find_key(collection))
        return found

    def key_line(self, row_line: int, key: str) -> int:
        pattern = re.compile(rf"^\s*{key}\s*=")
        first = self.lines[row_line - 1]
        if key in first and not first.lstrip().startswith("[["):
            return row_line
        for index in range(row_line, len(self.lines)):
            line = self.lines[index]
            if line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return index + 1
        return row_line


def _collection(
    data: Mapping[str, Any], collection: Collection, lines: _Lines
) -> CompiledCollection:
    name = collection.value
    section = data.get(name)
    if section is None:
        raise lines.error(
            1, f"the template has no [{name}] collection; it needs both [add] and [update]"
        )
    header = lines.find_key(name)
    if not isinstance(section, Mapping):
        raise lines.error(
            header, f"{name} must be a table ([{name}]), got {type(section).__name__}"
        )
    for key in section:
        if key not in ("on_match", "mappings"):
            raise lines.error(
                lines.find_key(key),
                f"[{name}] has an unknown key {key!r}; it takes on_match and mappings",
            )
    on_match = section.get("on_match", "patch")
    if on_match not in ON_MATCH:
        raise lines.error(
            lines.find_key("on_match"),
            f'{name}.on_match must be "patch" or "link-only", got {on_match!r}',
        )
    raw_rows = section.get("mappings", [])
    if not isinstance(raw_rows, list) or not all(isinstance(r, Mapping) for r in raw_rows):
        raise lines.error(
            header, f"{name}.mappings must be a list of [[{name}.mappings]] tables"
        )
    destinations = [str(r.get("destination", "")) for r in raw_rows]
    row_lines = lines.row_lines(name, len(raw_rows), destinations)
    rows: list[Row] = []
    steps: list[Step] = []
    seen: dict[object, Row] = {}
    list_names: list[str] = []
    maps_subscribe = False
    has_identifier = False
    for index, raw in enumerate(raw_rows):
        row, value = _row(raw, row_lines[index], name, index, lines)
        target = _target(row, lines, name)
        if target in seen:
            first = seen[target]
            raise lines.error(
                row.line,
                f"{name} mapping {row.destination!r} sets the same field as "
                f"{first.destination!r} on line {first.line}; keep one",
            )
        seen[target] = row
        if isinstance(target, tuple) and target[0] == "list":
            list_names.append(str(target[1]))
        maps_subscribe = maps_subscribe or target == "subscribe"
        has_identifier = has_identifier or target in ("email", "phone_number")
        try:
            step = compile_row(row, value, name)
        except RowError as exc:
            line = row.line if exc.key is None else lines.key_line(row.line, exc.key)
            raise lines.error(line, str(exc)) from None
        if step is not None:
            steps.append(step)
        rows.append(row)
    if not has_identifier:
        raise lines.error(
            header,
            f"the {name} collection maps neither Email nor PhoneNumber, so no customer could be "
            "sent; map at least one of them",
        )
    return CompiledCollection(
        collection=collection,
        on_match=str(on_match),
        rows=tuple(rows),
        steps=tuple(steps),
        list_names=tuple(list_names),
        maps_subscribe=maps_subscribe,
    )


def _row(
    raw: Mapping[str, Any], line: int, collection: str, index: int, lines: _Lines
) -> tuple[Row, Any]:
    label = f"{collection} mapping {index + 1}"
    unknown = sorted(set(raw) - _ROW_KEYS)
    if unknown:
        raise lines.error(
            lines.key_line(line, unknown[0]),
            f"{label}: unknown key {unknown[0]!r}; a row has destination, kind and "
            "value (static), source (field) or formula (formula)",
        )
    destination = raw.get("destination")
    if not isinstance(destination, str) or not destination.strip():
        raise lines.error(line, f"{label}: destination is missing or empty")
    destination = destination.strip()
    label = f"{collection} mapping {destination!r}"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise lines.error(
            lines.key_line(line, "kind"),
            f"{label}: kind must be static, field or formula, got {kind!r}",
        )
    key = KIND_KEYS[kind]
    for other in ("value", "source", "formula"):
        if other != key and other in raw:
            raise lines.error(
                lines.key_line(line, other),
                f"{label}: a {kind} row takes {key}, not {other}",
            )
    if key not in raw:
        raise lines.error(line, f"{label}: a {kind} row needs {key} = ...")
    value = raw[key]
    if kind == "static":
        if not isinstance(value, bool | str | int | float):
            raise lines.error(
                lines.key_line(line, key),
                f"{label}: a static value must be text, a number or true/false, "
                f"got {type(value).__name__}",
            )
        text = "true" if value is True else "false" if value is False else str(value)
    else:
        if not isinstance(value, str) or not value.strip():
            raise lines.error(lines.key_line(line, key), f"{label}: {key} must be non-empty text")
        text = value.strip()
    return Row(destination, kind, text, line), value


def _target(row: Row, lines: _Lines, collection: str) -> object:
    """What a destination sets, for duplicate detection: an attribute key, 'subscribe', a list."""
    folded = row.destination.casefold().replace(" ", "")
    if folded in ATTRIBUTES:
        return ATTRIBUTES[folded]
    if folded in LOCATION:
        return ("location", LOCATION[folded])
    if folded in ("type", "id", "subscribeprofile"):
        return "subscribe" if folded == "subscribeprofile" else folded
    for prefix in ("LIST_", "UCLIST_"):
        if row.destination.startswith(prefix):
            name = row.destination[len(prefix):].strip()
            if not name:
                raise lines.error(
                    row.line,
                    f"{collection} mapping {row.destination!r}: {prefix} needs a Klaviyo list "
                    f"name after it, e.g. {prefix}Newsletter",
                )
            return ("list", name)
    return ("property", row.destination)


__all__ = [
    "ATTRIBUTES",
    "LOCATION",
    "Call",
    "CompiledCollection",
    "FieldRef",
    "Row",
    "Template",
    "TemplateError",
    "load_template",
    "parse_flag",
    "parse_template",
]
