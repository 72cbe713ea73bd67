"""Where the console's settings come from: environment, a TOML config file, and the command line."""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

DEFAULT_KLAVIYO_URL = "https://a.klaviyo.com"
DEFAULT_IPAAS_URL = "https://api.ipaas.com"
DEFAULT_REVISION = "2026-07-15"
APP_DIR = "klaviyo-console"

_SECRET_FIELDS = ("klaviyo_api_key", "ipaas_token", "listen_secret")

# What the consent guard may hold for confirmation, in the words of design §9's guard reasons.
CONSENT_HOLD_KINDS = ("unsubscribe", "resubscribe", "consent-email")
DEFAULT_CONSENT_HOLD = ("unsubscribe", "resubscribe")
OPT_IN_PROCESSES = ("double_opt_in", "single_opt_in")

# TOML table.key -> Config field, and the environment variable that overrides it.
_FILE_KEYS: dict[tuple[str, str], str] = {
    ("klaviyo", "api_key"): "klaviyo_api_key",
    ("klaviyo", "base_url"): "klaviyo_base_url",
    ("klaviyo", "revision"): "revision",
    ("ipaas", "api_token"): "ipaas_token",
    ("ipaas", "system_id"): "ipaas_system_id",
    ("ipaas", "base_url"): "ipaas_base_url",
    ("console", "state_dir"): "state_dir",
    ("console", "template"): "template_path",
    ("console", "default_region"): "default_region",
    ("console", "sms_consent"): "sms_consent",
    ("console", "retry_attempts"): "retry_attempts",
    ("console", "consent_resend_days"): "consent_resend_days",
    ("console", "customer_index_hours"): "customer_index_hours",
    ("listen", "secret"): "listen_secret",
    ("listen", "port"): "listen_port",
    ("listen", "host"): "listen_host",
    ("network", "connect_timeout"): "connect_timeout",
    ("network", "read_timeout"): "read_timeout",
    ("network", "total_timeout"): "total_timeout",
    ("consent", "hold"): "consent_hold",
    ("consent", "brake_share"): "consent_brake_share",
    ("consent", "brake_min"): "consent_brake_min",
    ("consent", "account_opt_in"): "account_opt_in",
    ("history", "retention_days"): "history_retention_days",
}
_ENV_KEYS: dict[str, str] = {
    "KLAVIYO_API_KEY": "klaviyo_api_key",
    "KLAVIYO_BASE_URL": "klaviyo_base_url",
    "KLAVIYO_REVISION": "revision",
    "IPAAS_API_TOKEN": "ipaas_token",
    "IPAAS_SYSTEM_ID": "ipaas_system_id",
    "IPAAS_BASE_URL": "ipaas_base_url",
    "KLAVIYO_CONSOLE_STATE_DIR": "state_dir",
    "KLAVIYO_CONSOLE_TEMPLATE": "template_path",
    "KLAVIYO_CONSOLE_DEFAULT_REGION": "default_region",
    "KLAVIYO_CONSOLE_SMS_CONSENT": "sms_consent",
    "KLAVIYO_CONSOLE_LISTEN_SECRET": "listen_secret",
    "KLAVIYO_CONSOLE_RETRY_ATTEMPTS": "retry_attempts",
    "KLAVIYO_CONSOLE_CONNECT_TIMEOUT": "connect_timeout",
    "KLAVIYO_CONSOLE_READ_TIMEOUT": "read_timeout",
    "KLAVIYO_CONSOLE_TOTAL_TIMEOUT": "total_timeout",
}


class ConfigError(ValueError):
    """A configuration mistake, stated in one line that says what to fix."""


@dataclass(frozen=True)
class Config:
    """Everything the engine needs to run: credentials, endpoints, state and mapping choices."""

    state_dir: Path
    template_path: Path | None = None
    klaviyo_api_key: str = ""
    klaviyo_base_url: str = DEFAULT_KLAVIYO_URL
    revision: str = DEFAULT_REVISION
    ipaas_token: str = ""
    ipaas_system_id: str = ""
    ipaas_base_url: str = DEFAULT_IPAAS_URL
    sandbox: bool = False
    sandbox_seed: Path | None = None
    default_region: str = "US"
    sms_consent: bool = False
    listen_secret: str | None = None
    # Attempts per API call before a transient failure (5xx, 429, timeout) is logged.
    retry_attempts: int = 5
    # Port `listen` binds (None: the CLI uses 8787, the console a free port); --port wins.
    listen_port: int | None = None
    # The [keymap] table as written: binding id -> keys. The console validates the ids.
    keymap: Mapping[str, str] = field(default_factory=dict)
    # Seconds, for both services: to connect, to wait for each read, and for one call with
    # all its retries.
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    # Consent changes the guard holds for confirmation (CONSENT_HOLD_KINDS).
    consent_hold: tuple[str, ...] = DEFAULT_CONSENT_HOLD
    # A batch stops when more than this share of its customers (and at least brake_min of
    # them) would be held by the guard.
    consent_brake_share: float = 0.05
    consent_brake_min: int = 20
    # Days before a pending double opt-in consent email may be sent again.
    consent_resend_days: int = 30
    # The account's default opt-in process for lists the API does not describe.
    account_opt_in: str = "double_opt_in"
    # Push history older than this many days may be pruned; None keeps it for ever.
    history_retention_days: int | None = None
    # Address `listen` binds (None: loopback); --host wins.
    listen_host: str | None = None
    # The console refreshes the customer index at launch when it is older than this.
    customer_index_hours: float = 24.0

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items())
        return f"Config({shown})"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """The configured secret values, so stores can refuse to persist them."""
        values = (getattr(self, name) for name in _SECRET_FIELDS)
        return tuple(v for v in values if isinstance(v, str) and v)

    def redacted(self) -> dict[str, Any]:
        """The settings as plain values, with every secret masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS:
                value = _mask(value)
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def load(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
        state_dir: Path | None = None,
        sandbox: bool = False,
        sandbox_seed: Path | None = None,
    ) -> Config:
        """Merge defaults < config file < environment < command line; ConfigError on mistakes."""
        env = os.environ if env is None else env
        explicit_file = config_file is not None
        path = config_file if config_file is not None else default_config_path(env)
        values, origins = _read_file(path, required=explicit_file)
        for name, key in _ENV_KEYS.items():
            raw = env.get(name)
            if raw is not None and raw.strip() != "":
                values[key] = raw.strip()
                origins[key] = name
        if state_dir is not None:
            values["state_dir"] = state_dir
            origins["state_dir"] = "--state-dir"

        has_klaviyo = bool(values.get("klaviyo_api_key"))
        has_ipaas = bool(values.get("ipaas_token"))
        use_sandbox = sandbox or sandbox_seed is not None or not (has_klaviyo or has_ipaas)
        if not use_sandbox:
            missing = [
                env_name
                for env_name, key in (
                    ("KLAVIYO_API_KEY", "klaviyo_api_key"),
                    ("IPAAS_API_TOKEN", "ipaas_token"),
                    ("IPAAS_SYSTEM_ID", "ipaas_system_id"),
                )
                if not values.get(key)
            ]
            if missing:
                raise ConfigError(
                    f"incomplete credentials: set {', '.join(missing)} "
                    "(or run with --sandbox)"
                )
        if sandbox_seed is not None and not Path(sandbox_seed).is_file():
            raise ConfigError(f"sandbox data file not found: {sandbox_seed}")

        def origin(key: str) -> str:
            return origins.get(key, key)

        def setting(key: str, parse: Any, default: Any) -> Any:
            return parse(values[key], origin(key)) if values.get(key) is not None else default

        chosen_state = values.get("state_dir")
        if chosen_state is None:
            base = default_data_dir(env)
            # Sandbox state never mixes with a real account's error log and history.
            chosen_state = base / "sandbox" if use_sandbox else base
        template = values.get("template_path")
        config = cls(
            state_dir=Path(os.path.expanduser(str(chosen_state))),
            template_path=Path(os.path.expanduser(str(template))) if template else None,
            klaviyo_api_key=str(values.get("klaviyo_api_key", "")),
            klaviyo_base_url=str(values.get("klaviyo_base_url", DEFAULT_KLAVIYO_URL)).rstrip("/"),
            revision=str(values.get("revision", DEFAULT_REVISION)),
            ipaas_token=str(values.get("ipaas_token", "")),
            ipaas_system_id=str(values.get("ipaas_system_id", "")),
            ipaas_base_url=str(values.get("ipaas_base_url", DEFAULT_IPAAS_URL)).rstrip("/"),
            sandbox=use_sandbox,
            sandbox_seed=Path(sandbox_seed) if sandbox_seed is not None else None,
            default_region=setting("default_region", _region, "US"),
            sms_consent=setting("sms_consent", _boolean, False),
            listen_secret=str(values["listen_secret"]) if values.get("listen_secret") else None,
            retry_attempts=setting("retry_attempts", _count, 5),
            listen_port=setting("listen_port", _port, None),
            keymap=dict(values.get("keymap", {})),
            connect_timeout=setting("connect_timeout", _seconds, 10.0),
            read_timeout=setting("read_timeout", _seconds, 30.0),
            total_timeout=setting("total_timeout", _seconds, 120.0),
            consent_hold=setting("consent_hold", _hold_kinds, DEFAULT_CONSENT_HOLD),
            consent_brake_share=setting("consent_brake_share", _share, 0.05),
            consent_brake_min=setting("consent_brake_min", _at_least_zero, 20),
            consent_resend_days=setting("consent_resend_days", _days, 30),
            account_opt_in=setting("account_opt_in", _opt_in, "double_opt_in"),
            history_retention_days=setting("history_retention_days", _days, None),
            listen_host=setting("listen_host", _host, None),
            customer_index_hours=setting("customer_index_hours", _hours, 24.0),
        )
        if config.template_path is not None and not config.template_path.is_file():
            raise ConfigError(
                f"mapping template not found: {config.template_path} "
                f"(from {origin('template_path')})"
            )
        if not use_sandbox:
            _check_url(config.klaviyo_base_url, origins.get("klaviyo_base_url",
                                                            "KLAVIYO_BASE_URL"))
            _check_url(config.ipaas_base_url, origins.get("ipaas_base_url", "IPAAS_BASE_URL"))
        return config

    def with_state_dir(self, state_dir: Path) -> Config:
        """A copy pointing at another state directory."""
        return replace(self, state_dir=state_dir)


def default_config_path(env: Mapping[str, str]) -> Path:
    """The XDG config file: $XDG_CONFIG_HOME/klaviyo-console/config.toml."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / APP_DIR / "config.toml"


def default_data_dir(env: Mapping[str, str]) -> Path:
    """The XDG data directory: $XDG_DATA_HOME/klaviyo-console."""
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / APP_DIR


def _mask(value: Any) -> Any:
    if not value:
        return value
    text = str(value)
    return "…" + text[-4:] if len(text) > 12 else "****"


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _whole(value: Any, name: str, what: str = "a whole number") -> int:
    # TOML's true would otherwise pass as 1.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be {what}, got {value!r}") from None


def _count(value: Any, name: str) -> int:
    number = _whole(value, name)
    if not 1 <= number <= 20:
        raise ConfigError(f"{name} must be between 1 and 20, got {number}")
    return number


def _at_least_zero(value: Any, name: str) -> int:
    number = _whole(value, name)
    if number < 0:
        raise ConfigError(f"{name} must be 0 or more, got {number}")
    return number


def _days(value: Any, name: str) -> int:
    number = _whole(value, name, "a whole number of days")
    if not 1 <= number <= 36_500:
        raise ConfigError(f"{name} must be between 1 and 36500 days, got {number}")
    return number


def _number(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be {what}, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    return number


def _seconds(value: Any, name: str) -> float:
    number = _number(value, name, "a number of seconds")
    if not 0 < number <= 3600:
        raise ConfigError(f"{name} must be more than 0 and at most 3600 seconds, got {value!r}")
    return number


def _hours(value: Any, name: str) -> float:
    number = _number(value, name, "a number of hours")
    if not 0 < number <= 8760:
        raise ConfigError(f"{name} must be more than 0 and at most 8760 hours, got {value!r}")
    return number


def _share(value: Any, name: str) -> float:
    number = _number(value, name, "a share between 0 and 1")
    if not 0 <= number <= 1:
        raise ConfigError(f"{name} must be a share between 0 and 1 (0.05 is 5%), got {value!r}")
    return number


def _region(value: Any, name: str) -> str:
    region = str(value).strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"{name} must be a two-letter ISO 3166 region code such as US, GB or DE, "
            f"got {value!r}"
        )
    return region


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text not in choices:
        listed = " or ".join(f'"{c}"' for c in choices)
        raise ConfigError(f"{name} must be {listed}, got {value!r}")
    return text


def _opt_in(value: Any, name: str) -> str:
    return _choice(value, name, OPT_IN_PROCESSES)


def _hold_kinds(value: Any, name: str) -> tuple[str, ...]:
    # A TOML array, or one comma-separated string.
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(f"{name} must be a list such as [\"unsubscribe\", \"resubscribe\"], "
                          f"got {value!r}")
    kinds: list[str] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        kind = _choice(item, name, CONSENT_HOLD_KINDS)
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def _host(value: Any, name: str) -> str:
    text = value.strip().strip("[]") if isinstance(value, str) else ""
    if _is_ip(text) or (text and all(ch.isalnum() or ch in "-." for ch in text)):
        return text
    raise ConfigError(f"{name} must be a host name or IP address such as 127.0.0.1, "
                      f"got {value!r}")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _port(value: Any, name: str) -> int:
    number = _whole(value, name, "a port number")
    if not 0 <= number <= 65535:
        raise ConfigError(f"{name} must be between 0 and 65535, got {number}")
    return number


def _keymap(content: dict[str, Any], path: Path) -> dict[str, str]:
    for key, value in content.items():
        if not isinstance(value, str):
            raise ConfigError(f"config file {path}: [keymap] {key} must be a key name such as "
                              f'"f5" or "ctrl+p,f5", got {value!r}')
    return dict(content)


def _read_file(path: Path, *, required: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The file's settings by Config field, and where each came from, for error messages."""
    path = Path(os.path.expanduser(str(path)))
    if not path.exists():
        if required:
            raise ConfigError(f"config file not found: {path}")
        return {}, {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for table, content in raw.items():
        if not isinstance(content, dict):
            raise ConfigError(f"config file {path}: [{table}] must be a table")
        if table == "keymap":
            values["keymap"] = _keymap(content, path)
            continue
        for key, value in content.items():
            target = _FILE_KEYS.get((table, key))
            if target is None:
                known = ", ".join(f"{t}.{k}" for t, k in _FILE_KEYS)
                raise ConfigError(
                    f"config file {path}: unknown setting {table}.{key} (known: {known})"
                )
            values[target] = value
            origins[target] = f"config file {path}: [{table}] {key}"
    if any(values.get(name) for name in _SECRET_FIELDS):
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"config file {path} holds secrets and others can read it: run chmod 600 {path}"
            )
    return values, origins


def _check_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{name} uses plain http to {parts.hostname}: credentials would travel unencrypted; "
            "use https (plain http is allowed only on loopback)"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
