"""Helpers for end-to-end tests: run the real CLI against a seeded sandbox in a temp state dir."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from console.cli import main

LISTS = [
    {"name": "Sms Subscribers", "opt_in_process": "double_opt_in"},
    {"name": "Preview List", "opt_in_process": "single_opt_in"},
]

# For scenarios whose list-less subscribe must take effect at once (no consent email).
SINGLE_OPT_IN_ACCOUNT = {"opt_in_process": "single_opt_in"}

CLEARED_ENV = (
    "KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "KLAVIYO_REVISION", "IPAAS_API_TOKEN",
    "IPAAS_SYSTEM_ID", "IPAAS_BASE_URL", "KLAVIYO_CONSOLE_STATE_DIR",
    "KLAVIYO_CONSOLE_TEMPLATE", "KLAVIYO_CONSOLE_LISTEN_SECRET", "SANDBOX_LATENCY_MS",
    "SANDBOX_FAILURE_RATE", "SANDBOX_KLAVIYO_DOWN", "SANDBOX_RATE_SCALE",
    "KLAVIYO_CONSOLE_DEFAULT_REGION", "KLAVIYO_CONSOLE_SMS_CONSENT",
)


def customer(cid: int, *, email: str | None = None, number: str | None = None,
             first: str = "Test", last: str = "Person", company: str | None = None,
             country: str | None = "US", fields: dict[str, str] | None = None,
             address: bool = True) -> dict[str, Any]:
    """An iPaaS.com Customer in the API's snake_case shape."""
    addresses = []
    if address:
        addresses.append({
            "address_1": "233 S Wacker Dr", "address_2": "Suite 4100", "city": "Chicago",
            "region": "IL", "country": country, "postal_code": "60606",
            "is_primary_billing": True, "is_primary_shipping": True,
        })
    return {
        "id": cid, "customer_number": number, "first_name": first, "last_name": last,
        "email_address": email, "company": company, "addresses": addresses,
        "custom_fields": [{"custom_field_name": k, "value": v} for k, v in (fields or {}).items()],
    }


def template_with_custom_fields(path: Path) -> Path:
    """The shipped template with SubscribeProfile and both list rows read from custom fields."""
    text = resources.files("core.mapping").joinpath("default.toml").read_text(encoding="utf-8")
    rows = {
        "SubscribeProfile": "SubscribeProfile",
        "LIST_Sms Subscribers": "Sms",
        "UCLIST_Preview List": "Preview",
    }
    for destination, source in rows.items():
        static = f'destination = "{destination}"\nkind = "static"\nvalue = true'
        assert static in text, destination
        text = text.replace(
            static,
            f"destination = \"{destination}\"\nkind = \"formula\"\n"
            f"formula = 'custom_field(\"{source}\")'",
        )
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Cli:
    """Runs `klaviyo-console` in-process with one state dir and seed."""

    state_dir: Path
    seed_path: Path
    capsys: pytest.CaptureFixture[str]

    def seed(self, customers: list[dict[str, Any]], profiles: list[dict[str, Any]] | None = None,
             links: dict[str, str] | None = None, lists: list[dict[str, Any]] | None = None,
             account: dict[str, Any] | None = None) -> None:
        # The account is the sandbox's default, double opt-in as Klaviyo's, unless a test
        # names the setting it needs.
        document: dict[str, Any] = {
            "customers": customers, "profiles": profiles or [],
            "lists": LISTS if lists is None else lists, "links": links or {}}
        if account is not None:
            document["account"] = account
        self.seed_path.write_text(json.dumps(document), encoding="utf-8")

    def run(self, *args: str, sandbox: bool = True) -> tuple[int, str, str]:
        self.capsys.readouterr()
        head = ["--sandbox", str(self.seed_path)] if sandbox else []
        code = main([*head, "--state-dir", str(self.state_dir), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> tuple[int, Any]:
        code, out, err = self.run(*args, "--json")
        assert out.strip(), f"no JSON printed (exit {code}); stderr: {err}"
        return code, json.loads(out)

    def state(self) -> dict[str, Any]:
        """The sandbox's persisted state: {"klaviyo": {...}, "ipaas": {...}}."""
        data: dict[str, Any] = json.loads(
            (self.state_dir / "sandbox" / "state.json").read_text(encoding="utf-8"))
        return data

    def profiles_with(self, **attrs: str) -> list[dict[str, Any]]:
        found = []
        for profile in self.state()["klaviyo"]["profiles"]:
            if all(profile["attributes"].get(k) == v for k, v in attrs.items()):
                found.append(profile)
        return found

    def link_of(self, customer_id: str) -> str | None:
        from core.sandbox import Sandbox

        sandbox = Sandbox(self.state_dir)
        try:
            return sandbox.ipaas.link_of(customer_id)
        finally:
            sandbox.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    # Transient failures are logged at once instead of being retried with backoff.
    monkeypatch.setenv("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", "1")
    monkeypatch.setenv("COLUMNS", "160")
    return monkeypatch


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: pytest.MonkeyPatch) -> Cli:
    return Cli(state_dir=tmp_path / "state", seed_path=tmp_path / "seed.json", capsys=capsys)


@pytest.fixture
def custom_template(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    path = template_with_custom_fields(tmp_path / "template.toml")
    clean_env.setenv("KLAVIYO_CONSOLE_TEMPLATE", str(path))
    return path


Runner = Callable[..., tuple[int, str, str]]
