"""Where settings come from: precedence, defaults, the sandbox fallback and masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config, ConfigError

REAL = {"KLAVIYO_API_KEY": "pk_live_0123456789abcdef", "IPAAS_API_TOKEN": "tok_0123456789abcd",
        "IPAAS_SYSTEM_ID": "42"}


def test_no_credentials_means_sandbox_with_its_own_state_dir(tmp_path: Path) -> None:
    config = Config.load(env={"XDG_DATA_HOME": str(tmp_path)}, config_file=None)
    assert config.sandbox
    assert config.state_dir == tmp_path / "klaviyo-console" / "sandbox"


def test_environment_overrides_the_file_and_argv_overrides_both(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('[console]\nstate_dir = "/from/file"\ndefault_region = "gb"\n'
                    '[klaviyo]\nbase_url = "https://file.example"\n', encoding="utf-8")
    env = {**REAL, "KLAVIYO_BASE_URL": "https://env.example/",
           "KLAVIYO_CONSOLE_STATE_DIR": "/from/env"}
    config = Config.load(env=env, config_file=file, state_dir=tmp_path / "argv")
    assert not config.sandbox
    assert config.klaviyo_base_url == "https://env.example"
    assert config.default_region == "GB"
    assert config.state_dir == tmp_path / "argv"


def test_loopback_http_is_allowed_for_real_credentials(tmp_path: Path) -> None:
    env = {**REAL, "KLAVIYO_BASE_URL": "http://127.0.0.1:9000",
           "IPAAS_BASE_URL": "http://localhost:9000"}
    config = Config.load(env=env, state_dir=tmp_path)
    assert config.ipaas_base_url == "http://localhost:9000"


@pytest.mark.parametrize("text, needle", [
    ("[klaviyo]\nkey = 1\n", "unknown setting klaviyo.key"),
    ("not toml at all [", "not valid TOML"),
    ("[console]\nretry_attempts = 0\n", "retry_attempts"),
])
def test_bad_config_files_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    file = tmp_path / "config.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        Config.load(env={}, config_file=file, state_dir=tmp_path)


def test_a_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Config.load(env={}, config_file=tmp_path / "nope.toml")


def test_secrets_never_show_in_repr_or_redacted(tmp_path: Path) -> None:
    config = Config.load(env={**REAL, "KLAVIYO_CONSOLE_LISTEN_SECRET": "hook-secret-value"},
                         state_dir=tmp_path)
    shown = repr(config) + str(config.redacted())
    for secret in (*REAL.values(), "hook-secret-value"):
        if secret != "42":
            assert secret not in shown
    assert set(config.secrets) == {REAL["KLAVIYO_API_KEY"], REAL["IPAAS_API_TOKEN"],
                                   "hook-secret-value"}
