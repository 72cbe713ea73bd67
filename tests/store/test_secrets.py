"""No record ever holds a configured secret; the refusal names the field, never the secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import ErrorLog, History, KeyValue

from .conftest import entry, error

KEY = "pk_live_0123456789abcdef"
TOKEN = "ipaas-token-7f3a9c"
SECRETS = (KEY, TOKEN, "")


def _files(root: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_an_error_record_holding_a_secret_is_refused(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, secrets=SECRETS)
    record = error(log.new_id(), detail=f"Authorization: Klaviyo-API-Key {KEY}")
    with pytest.raises(ValueError, match="'detail'") as caught:
        log.add(record)
    assert KEY not in str(caught.value)
    assert log.count() == 0
    clean = error(log.new_id())
    log.add(clean)
    with pytest.raises(ValueError, match="'message'"):
        log.update(error(clean.id, message=f"token {TOKEN} rejected"))
    assert log.get(clean.id) == clean
    assert KEY not in _files(tmp_path) and TOKEN not in _files(tmp_path)


def test_a_history_entry_with_a_nested_secret_is_refused(tmp_path: Path) -> None:
    history = History(tmp_path, secrets=SECRETS)
    sent = {"data": {"attributes": {"properties": {"note": f"x{TOKEN}x"}}}}
    with pytest.raises(ValueError, match=r"'sent\.data\.attributes\.properties\.note'"):
        history.add(entry(history.new_id(), sent=sent))
    with pytest.raises(ValueError, match=r"'lists\[0\]\.list'"):
        history.add(entry(history.new_id(), lists=({"list": KEY},)))
    assert history.count() == 0
    assert KEY not in _files(tmp_path) and TOKEN not in _files(tmp_path)


def test_a_history_entry_is_refused_whatever_characters_the_secret_has(tmp_path: Path) -> None:
    # A secret JSON escapes (a quote, a backslash) does not show as it is in the stored text.
    odd = 'pk_"odd\\key'
    history = History(tmp_path, secrets=(odd, KEY))
    with pytest.raises(ValueError, match=r"'sent\.data\.note'"):
        history.add(entry(history.new_id(), sent={"data": {"note": f"a {odd} b"}}))
    with pytest.raises(ValueError, match="<a key>"):
        history.add(entry(history.new_id(), sent={"data": {KEY: "x"}}))
    history.add(entry(history.new_id(), sent={"data": {"note": "nothing secret"}}))
    assert history.count() == 1


def test_a_setting_holding_a_secret_is_refused(tmp_path: Path) -> None:
    settings = KeyValue(tmp_path, "prefs", secrets=SECRETS)
    with pytest.raises(ValueError, match=r"prefs\.auth: field 'header'") as caught:
        settings.set("auth", {"header": KEY})
    assert KEY not in str(caught.value)
    with pytest.raises(ValueError, match="a key of settings prefs") as caught:
        settings.set(TOKEN, 1)
    assert TOKEN not in str(caught.value)
    with pytest.raises(ValueError, match="<a key>") as caught:
        settings.set("map", {f"x{TOKEN}": 1})
    assert TOKEN not in str(caught.value)
    settings.set("theme", "dark")
    assert KEY not in _files(tmp_path) and TOKEN not in _files(tmp_path)


def test_an_empty_secret_does_not_refuse_everything(tmp_path: Path) -> None:
    log = ErrorLog(tmp_path, secrets=("", "  "))
    log.add(error(log.new_id()))
    assert log.count() == 1
