"""Mapping: the template file (TOML), its safe formulas, and applying it to a Customer."""

from core.mapping.apply import NO_IDENTIFIER, apply
from core.mapping.formula import FUNCTIONS, FormulaError
from core.mapping.template import (
    Row,
    Template,
    TemplateError,
    load_template,
    parse_flag,
    parse_template,
)

__all__ = [
    "FUNCTIONS",
    "NO_IDENTIFIER",
    "FormulaError",
    "Row",
    "Template",
    "TemplateError",
    "apply",
    "load_template",
    "parse_flag",
    "parse_template",
]
