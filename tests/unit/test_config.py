"""Settings are validated where they enter, and a mistake names where the value came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config import Config, ConfigError

REAL = {"KLAVIYO_API_KEY": "pk_live_0123456789abcdef", "IPAAS_API_TOKEN": "tok_0123456789abcd",
        "IPAAS_SYSTEM_ID": "42"}


def _load(tmp_path: Path, text: str = "", **env: str) -> Config:
    file = tmp_path / "config.toml"
    file.write_text(text, encoding="utf-8")
    return Config.load(env=env, config_file=file, state_dir=tmp_path)


def test_defaults_of_the_new_settings(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert (config.connect_timeout, config.read_timeout, config.total_timeout) == (
        10.0, 30.0, 120.0)
    assert config.consent_hold == ("unsubscribe", "resubscribe")
    assert (config.consent_brake_share, config.consent_brake_min) == (0.05, 20)
    assert config.consent_resend_days == 30
    assert config.account_opt_in == "double_opt_in"
    assert config.history_retention_days is None
    assert config.listen_host is None


def test_the_constructor_still_needs_only_a_state_dir(tmp_path: Path) -> None:
    config = Config(state_dir=tmp_path, default_region="GB", retry_attempts=3)
    assert config.total_timeout == 120.0 and config.consent_hold == ("unsubscribe", "resubscribe")
    shown = config.redacted()
    assert shown["consent_hold"] == ["unsubscribe", "resubscribe"]
    assert shown["history_retention_days"] is None


def test_new_settings_are_read_from_their_tables(tmp_path: Path) -> None:
    config = _load(tmp_path, """
[network]
connect_timeout = 3
read_timeout = 12.5
total_timeout = 60
[consent]
hold = ["unsubscribe", "consent-email", "unsubscribe"]
brake_share = 0.1
brake_min = 0
account_opt_in = "single_opt_in"
[console]
consent_resend_days = 7
[history]
retention_days = 90
[listen]
host = "0.0.0.0"
""")
    assert (config.connect_timeout, config.read_timeout, config.total_timeout) == (
        3.0, 12.5, 60.0)
    assert config.consent_hold == ("unsubscribe", "consent-email")
    assert (config.consent_brake_share, config.consent_brake_min) == (0.1, 0)
    assert config.account_opt_in == "single_opt_in"
    assert config.consent_resend_days == 7
    assert config.history_retention_days == 90
    assert config.listen_host == "0.0.0.0"


def test_an_empty_hold_list_holds_nothing(tmp_path: Path) -> None:
    assert _load(tmp_path, "[consent]\nhold = []\n").consent_hold == ()


def test_timeouts_from_the_environment_win_over_the_file(tmp_path: Path) -> None:
    config = _load(tmp_path, "[network]\nread_timeout = 12\n",
                   KLAVIYO_CONSOLE_READ_TIMEOUT="4.5", KLAVIYO_CONSOLE_TOTAL_TIMEOUT="40",
                   KLAVIYO_CONSOLE_CONNECT_TIMEOUT="2")
    assert (config.connect_timeout, config.read_timeout, config.total_timeout) == (
        2.0, 4.5, 40.0)


@pytest.mark.parametrize(("variable", "value"), [
    ("KLAVIYO_CONSOLE_DEFAULT_REGION", "XX"),
    ("KLAVIYO_CONSOLE_DEFAULT_REGION", "USA"),
    ("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", "five"),
    ("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", "0"),
    ("KLAVIYO_CONSOLE_SMS_CONSENT", "maybe"),
    ("KLAVIYO_CONSOLE_CONNECT_TIMEOUT", "0"),
    ("KLAVIYO_CONSOLE_READ_TIMEOUT", "soon"),
    ("KLAVIYO_CONSOLE_TOTAL_TIMEOUT", "-5"),
    ("KLAVIYO_CONSOLE_TOTAL_TIMEOUT", "nan"),
])
def test_a_bad_variable_is_named_not_the_config_key(tmp_path: Path, variable: str,
                                                    value: str) -> None:
    # The file holds good values for the same settings: the error must be about the variable.
    text = ('[console]\ndefault_region = "GB"\nretry_attempts = 3\nsms_consent = true\n'
            "[network]\nconnect_timeout = 5\nread_timeout = 5\ntotal_timeout = 50\n")
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, text, **{variable: value})
    message = str(refused.value)
    assert message.startswith(f"{variable} must be")
    assert "[console]" not in message and "[network]" not in message


def test_the_region_is_accepted_in_any_case(tmp_path: Path) -> None:
    config = _load(tmp_path, KLAVIYO_CONSOLE_DEFAULT_REGION="gb")
    assert config.default_region == "GB"


@pytest.mark.parametrize(("text", "key", "needle"), [
    ('[console]\ndefault_region = "XX"\n', "[console] default_region", "ISO 3166"),
    ("[console]\nretry_attempts = true\n", "[console] retry_attempts", "whole number"),
    ("[console]\nretry_attempts = 2.5\n", "[console] retry_attempts", "whole number"),
    ("[console]\nconsent_resend_days = 0\n", "[console] consent_resend_days", "days"),
    ("[network]\nread_timeout = 0\n", "[network] read_timeout", "seconds"),
    ('[network]\ntotal_timeout = "long"\n', "[network] total_timeout", "seconds"),
    ('[consent]\nhold = ["unsubscribe", "delete"]\n', "[consent] hold", '"consent-email"'),
    ('[consent]\nhold = "unsubscribe"\n', None, None),
    ("[consent]\nhold = 3\n", "[consent] hold", "list"),
    ("[consent]\nbrake_share = 1.5\n", "[consent] brake_share", "between 0 and 1"),
    ("[consent]\nbrake_min = -1\n", "[consent] brake_min", "0 or more"),
    ('[consent]\naccount_opt_in = "triple_opt_in"\n', "[consent] account_opt_in",
     '"double_opt_in" or "single_opt_in"'),
    ("[history]\nretention_days = 0\n", "[history] retention_days", "days"),
    ('[listen]\nhost = "http://0.0.0.0"\n', "[listen] host", "host name"),
    ('[listen]\nport = "eighty"\n', "[listen] port", "port"),
    ("[network]\nconnect = 3\n", "network.connect", "unknown setting"),
])
def test_a_bad_file_value_names_its_table_key_and_file(tmp_path: Path, text: str,
                                                       key: str | None,
                                                       needle: str | None) -> None:
    if key is None:
        _load(tmp_path, text)  # one comma-separated string is a list too
        return
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, text)
    message = str(refused.value)
    assert key in message and str(tmp_path / "config.toml") in message
    assert needle is not None and needle in message


@pytest.mark.parametrize(("where", "named"), [
    ({"env": {"KLAVIYO_BASE_URL": "http://klaviyo.example"}}, "KLAVIYO_BASE_URL"),
    ({"file": '[ipaas]\nbase_url = "ftp://ipaas.example"\n'}, "[ipaas] base_url"),
])
def test_a_bad_base_url_names_where_it_was_set(tmp_path: Path, where: dict[str, Any],
                                               named: str) -> None:
    file = tmp_path / "config.toml"
    file.write_text(where.get("file", ""), encoding="utf-8")
    file.chmod(0o600)
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        Config.load(env={**REAL, **where.get("env", {})}, config_file=file, state_dir=tmp_path)
