"""The parsed-CSS cache: a hit gives the same rules, anything wrong with the file is a miss."""

from __future__ import annotations

import importlib
import inspect
import io
import os
import pickle
import pkgutil
from pathlib import Path

import pytest
from textual.app import App
from textual.css.stylesheet import Stylesheet, StylesheetParseError

import console.screens
import console.widgets
from console.app import ConsoleApp
from console.css_cache import (
    FILE_NAME,
    FORMAT,
    RULE_GLOBALS,
    CachedStylesheet,
    RulesFile,
    RulesUnpickler,
    load_rules,
    textual_identity,
)
from console.widgets.screenbar import ScreenBar
from tests.ui.helpers import settle

CSS = """
#lookup-bar { height: 3; padding: 0 1; }
#lookup-bar Input { width: 1fr; }
.sandbox { background: $warning 30%; color: $text; text-style: bold; content-align: center middle; }
Static:focus > .x { dock: top; border: tall $accent; }
"""
WHERE = ("console.tcss", "")


def variables() -> dict[str, str]:
    return App().get_css_variables()


def parsed(stylesheet: Stylesheet) -> list[str]:
    """The rules as Textual writes them back: selectors, specificity and every declaration."""
    return [f"{rule.selector_set} {rule.is_default_rules} {rule.tie_breaker} "
            f"{sorted(rule.styles.get_rules().items(), key=lambda item: item[0])}"
            for rule in stylesheet.rules]


def sheet(path: Path, variables: dict[str, str], css: str = CSS) -> CachedStylesheet:
    stylesheet = CachedStylesheet(variables=variables, rules_file=RulesFile(path))
    stylesheet.add_source(css, read_from=WHERE)
    return stylesheet


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed although the rules were cached")

    monkeypatch.setattr(Stylesheet, "_parse_rules", refuse)


def test_saved_rules_come_back_equal_without_parsing(tmp_path, monkeypatch):
    path, theme = tmp_path / FILE_NAME, variables()
    first = sheet(path, theme)
    expected = parsed(first)
    first.rules_file.save()
    no_parsing(monkeypatch)
    assert parsed(sheet(path, theme)) == expected


@pytest.mark.parametrize("damage", [
    b"",
    b"not a pickle at all",
    pickle.dumps(["a", "list"]),
    pickle.dumps({"format": FORMAT, "textual": "another textual", "entries": {}}),
    pickle.dumps({"format": FORMAT + 1, "textual": textual_identity(), "entries": {}}),
])
def test_a_damaged_or_foreign_file_is_ignored_and_rewritten(tmp_path, damage):
    path, theme = tmp_path / FILE_NAME, variables()
    expected = parsed(sheet(tmp_path / "fresh", theme))
    path.write_bytes(damage)
    stylesheet = sheet(path, theme)
    assert parsed(stylesheet) == expected
    stylesheet.rules_file.save()
    assert len(RulesFile(path).entries) == 1


def test_a_damaged_entry_is_parsed_again(tmp_path, monkeypatch):
    path, theme = tmp_path / FILE_NAME, variables()
    first = sheet(path, theme)
    expected = parsed(first)
    first.rules_file.save()
    stored = pickle.loads(path.read_bytes())
    stored["entries"] = {key: blob[: len(blob) // 2] for key, blob in stored["entries"].items()}
    path.write_bytes(pickle.dumps(stored))
    again = sheet(path, theme)
    assert parsed(again) == expected
    again.rules_file.save()  # the damaged entry is replaced by a good one
    no_parsing(monkeypatch)
    assert parsed(sheet(path, theme)) == expected


class Boom:
    def __reduce__(self):
        return (os.system, ("echo cache-ran-code > ran",))


def test_a_tampered_entry_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, theme = tmp_path / FILE_NAME, variables()
    stylesheet = sheet(path, theme)
    key = stylesheet.key(CSS, WHERE, False, 0, "")
    path.write_bytes(pickle.dumps({"format": FORMAT, "textual": textual_identity(),
                                   "entries": {key: pickle.dumps([Boom()])}}))
    assert parsed(stylesheet) == parsed(sheet(tmp_path / "fresh", theme))
    assert not (tmp_path / "ran").exists()


def test_another_theme_or_edited_css_is_a_miss(tmp_path, monkeypatch):
    path, theme = tmp_path / FILE_NAME, variables()
    sheet(path, theme).rules_file.save()
    light = App()
    light.theme = "textual-light"
    other = light.get_css_variables()
    assert other != theme
    rebuilt = sheet(path, other)
    assert parsed(rebuilt) == parsed(Stylesheet_with(other))
    edited = CSS.replace("height: 3", "height: 4")
    assert "('height', Scalar(value=4.0" in " ".join(parsed(sheet(path, theme, edited)))


def Stylesheet_with(variables: dict[str, str]) -> Stylesheet:
    stylesheet = Stylesheet(variables=variables)
    stylesheet.add_source(CSS, read_from=WHERE)
    return stylesheet


def test_invalid_css_still_fails_and_is_not_kept(tmp_path):
    path = tmp_path / FILE_NAME
    stylesheet = sheet(path, variables(), "Static { height: banana; }")
    with pytest.raises(StylesheetParseError):
        stylesheet.parse()
    stylesheet.rules_file.save()
    assert not path.exists()


async def test_a_second_launch_reads_the_rules_and_draws_the_same_screen(make_app, stub,
                                                                       monkeypatch):
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = app.export_screenshot()
    assert (stub.config.state_dir / FILE_NAME).exists()
    no_parsing(monkeypatch)
    again: ConsoleApp = make_app(stub)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.export_screenshot() == first


async def test_an_unwritable_state_dir_only_loses_the_cache(make_app, stub, tmp_path):
    (tmp_path / FILE_NAME).mkdir()  # a directory where the file goes: every write fails
    app = make_app(stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#customer").has_focus


def test_the_file_keeps_the_sources_in_use_and_drops_the_oldest_unused(tmp_path, monkeypatch):
    monkeypatch.setattr("console.css_cache.MAX_ENTRIES", 3)
    path, theme = tmp_path / FILE_NAME, variables()
    for height in range(1, 6):  # five edits of one rule: five entries, one file
        stylesheet = sheet(path, theme, CSS.replace("height: 3", f"height: {height}"))
        stylesheet.parse()
        stylesheet.rules_file.save()
    kept = RulesFile(path).entries
    assert len(kept) == 3
    newest = sheet(path, theme, CSS.replace("height: 3", "height: 5"))
    assert newest.key(newest.source[WHERE].content, WHERE, False, 0, "") in kept
    oldest = sheet(path, theme, CSS.replace("height: 3", "height: 1"))
    assert oldest.key(oldest.source[WHERE].content, WHERE, False, 0, "") not in kept


async def test_a_theme_change_restyles_the_screen_drawn_from_the_cache(make_app, stub):
    first = make_app(stub)
    async with first.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
    app = make_app(stub)  # this launch reads its rules from the file
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(ScreenBar)
        dark = list(bar.render_line(1))[1].style
        app.theme = "textual-light"
        await settle(pilot)
        light = list(bar.render_line(1))[1].style
        assert light is not None and dark is not None and light.bgcolor != dark.bgcolor
        assert "SANDBOX" in bar.render_line(1).text


def _text(value: str) -> bytes:
    encoded = value.encode()
    return b"\x8c" + bytes([len(encoded)]) + encoded  # SHORT_BINUNICODE


# A protocol-4 stream whose global is a dotted path through an allowed module's imports:
# textual.app -> asyncio -> subprocess.Popen(["true"]).
WALKS_IMPORTS = (b"\x80\x04" + _text("textual.app") + _text("asyncio.subprocess.subprocess.Popen")
                 + b"\x93" + b"]" + _text("true") + b"a" + b"\x85" + b"R" + b".")


def test_a_global_reached_through_an_allowed_module_is_refused(tmp_path):
    with pytest.raises(pickle.UnpicklingError):
        RulesUnpickler(io.BytesIO(WALKS_IMPORTS)).load()
    assert load_rules(WALKS_IMPORTS) is None
    path = tmp_path / FILE_NAME
    path.write_bytes(WALKS_IMPORTS)
    assert RulesFile(path).entries == {}


def test_every_global_the_consoles_rules_need_is_allowed():
    # A real source pickles only to RULE_GLOBALS (and getattr/partial), so it never misses.
    needed: set[tuple[str, str]] = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            needed.add((module, name))
            return super().find_class(module, name)

    sources = [(Path(console.__file__).parent / "console.tcss").read_text(encoding="utf-8")]
    for package in (console.widgets, console.screens):
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            for _, cls in inspect.getmembers(importlib.import_module(info.name), inspect.isclass):
                if cls.__module__ == info.name and isinstance(cls.__dict__.get("DEFAULT_CSS"), str):
                    sources.append(cls.__dict__["DEFAULT_CSS"])
    assert len(sources) > 5
    stylesheet = Stylesheet(variables=variables())
    for source in sources:
        rules = stylesheet._parse_rules(source, ("test", ""), True, 0, "")
        Recorder(io.BytesIO(pickle.dumps(rules))).load()
    assert needed - {("builtins", "getattr"), ("functools", "partial")} <= RULE_GLOBALS
