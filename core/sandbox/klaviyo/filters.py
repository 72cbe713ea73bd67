"""Klaviyo's `filter` query language: `op(field,value)` expressions joined by commas (an AND)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.sandbox.klaviyo.errors import KlaviyoProblem, invalid

OPERATORS = frozenset(
    {
        "equals",
        "less-than",
        "less-or-equal",
        "greater-than",
        "greater-or-equal",
        "contains",
        "contains-any",
        "contains-all",
        "starts-with",
        "ends-with",
        "any",
        "has",
        "not",
        "and",
        "or",
    }
)
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$-]*")
_BARE = re.compile(r"[^,()\[\]\s]+")


@dataclass(frozen=True, slots=True)
class Condition:
    """One `op(field,value)` term."""

    op: str
    field: str
    value: Any


def _problem(detail: str) -> KlaviyoProblem:
    return invalid(detail, parameter="filter")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> KlaviyoProblem:
        return _problem(f"Invalid filter provided: {what} at position {self.pos} of '{self.text}'.")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] != char:
            raise self.fail(f"expected '{char}'")
        self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def name(self) -> str:
        self.skip_space()
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a name")
        self.pos = match.end()
        return match.group(0)

    def expressions(self) -> list[Condition]:
        terms = self.expression()
        while self.peek() == ",":
            self.pos += 1
            terms.extend(self.expression())
        return terms

    def expression(self) -> list[Condition]:
        op = self.name()
        if op not in OPERATORS:
            raise _problem(f"'{op}' is not a valid filter operator.")
        self.expect("(")
        if op == "and":
            terms = self.expressions()
            self.expect(")")
            return terms
        if op in {"or", "not"}:
            raise _problem(f"The '{op}' operator is not supported for this resource.")
        field = self.name()
        self.expect(",")
        value = self.value()
        self.expect(")")
        return [Condition(op, field, value)]

    def value(self) -> Any:
        char = self.peek()
        if char in {'"', "'"}:
            return self.string(char)
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            if self.peek() == "]":
                self.pos += 1
                return items
            items.append(self.value())
            while self.peek() == ",":
                self.pos += 1
                items.append(self.value())
            self.expect("]")
            return items
        match = _BARE.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a value")
        self.pos = match.end()
        return _bare(match.group(0))

    def string(self, quote: str) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.fail("unterminated string")


def _bare(token: str) -> Any:
    if token == "true":
        return True
    if token == "false":
        return False
    if token == "null":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(token.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _problem(f"Invalid filter value '{token}': strings must be quoted.") from exc


def parse_filter(text: str, allowed: Mapping[str, frozenset[str]]) -> list[Condition]:
    """Parse a filter and check each field and operator against what the endpoint allows."""
    parser = _Parser(text.strip())
    if not parser.text:
        raise _problem("Invalid filter provided: the filter is empty.")
    try:
        terms = parser.expressions()
    except RecursionError:
        # "[[[[..." or "and(and(..." a few thousand deep exhausts the parser's stack.
        raise _problem("Invalid filter provided: it nests too deeply.") from None
    if parser.peek():
        raise parser.fail("unexpected text")
    for term in terms:
        ops = allowed.get(term.field)
        if ops is None:
            raise _problem(f"'{term.field}' is not a valid field for filtering this resource.")
        if term.op not in ops:
            raise _problem(f"'{term.op}' is not a valid operator for '{term.field}'.")
        if term.op == "any" and not isinstance(term.value, list):
            raise _problem(f"The 'any' operator needs a list of values for '{term.field}'.")
        if term.op in {"greater-than", "less-than"} and not isinstance(term.value, datetime):
            raise _problem(f"'{term.field}' must be compared with an unquoted datetime.")
    return terms


def wanted_values(term: Condition) -> list[Any]:
    """The values an `equals` or `any` term accepts, always as a list."""
    return term.value if isinstance(term.value, list) else [term.value]
