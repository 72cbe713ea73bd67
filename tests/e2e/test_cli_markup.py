"""Issue 17 item 3: data is never markup in CLI output, and a done push is never told as failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from console import render
from tests.e2e.conftest import Cli, customer

# Rich markup, a closing tag alone (MarkupError when parsed), an emoji code, a backslash.
TRICKY_FIRST = "Zoë :100:"
TRICKY_LAST = "O'Brien [/b]"
TRICKY_COMPANY = "Smith [old account] Co [red]x\\"


@pytest.fixture
def tricky(cli: Cli) -> Cli:
    cli.seed([customer(7, email="zoe@example.com", first=TRICKY_FIRST, last=TRICKY_LAST,
                       company=TRICKY_COMPANY)],
             profiles=[{"attributes": {"email": "other@example.com",
                                       "properties": {"[bold]note[/bold]": ":wave: \\[x]"}}}],
             links={})
    return cli


def _shown(value: str, out: str) -> bool:
    return value in out or value in " ".join(out.split())


def test_preview_shows_names_and_companies_literally(tricky: Cli) -> None:
    code, out, err = tricky.run("preview", "7")
    assert code == 0, err
    assert "internal error" not in err and "MarkupError" not in err
    for value in (TRICKY_FIRST, TRICKY_LAST, TRICKY_COMPANY):
        assert _shown(value, out), (value, out)
    assert "💯" not in out


def test_push_of_such_a_customer_is_reported_done_as_the_history_says(tricky: Cli) -> None:
    code, out, err = tricky.run("push", "7", "--yes")
    assert code == 0, err
    assert "pushed: profile" in out and "internal error" not in err
    assert _shown(TRICKY_COMPANY, out)
    _, history = tricky.json("history")
    assert [entry["ok"] for entry in history] == [True]

    code, out, _ = tricky.run("history", "7")
    assert code == 0
    assert _shown(TRICKY_COMPANY, out) and _shown(TRICKY_LAST, out)
    code, out, _ = tricky.run("history")
    assert code == 0


def test_a_failure_after_the_write_never_reports_the_write_as_failed(
        tricky: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the display broke")

    monkeypatch.setattr(render, "push_view", broken)
    code, out, err = tricky.run("push", "7", "--yes")
    assert code == 0
    assert "pushed: profile" in err and "failed" not in out + err
    _, history = tricky.json("history")
    assert [entry["ok"] for entry in history] == [True]


def test_error_messages_and_records_show_data_literally(cli: Cli) -> None:
    cli.seed([customer(8, first="[/b]", last=":100: [red]", address=False)])
    code, _, _ = cli.run("push", "8")
    assert code == 1
    code, _, err = cli.run("errors")
    assert code == 0 and "internal error" not in err
    code, _, err = cli.run("history")
    assert code == 0 and "internal error" not in err


def test_a_template_path_with_brackets_is_shown_literally(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "[/b] tpl [red] :100: \\x"
    folder.mkdir(parents=True)  # "[/b]" makes "[" a folder of its own
    template = folder / "template.toml"
    template.write_text("[add]\non_match = \n", encoding="utf-8")
    monkeypatch.setenv("KLAVIYO_CONSOLE_TEMPLATE", str(template))
    cli.seed([])

    code, _, err = cli.run("preview", "1")
    assert code == 2
    assert str(folder) in err and "internal error" not in err

    code, out, _ = cli.run("check")
    assert code == 1
    assert str(folder) in " ".join(out.split()) or str(folder) in out
