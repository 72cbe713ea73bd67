"""The sandbox's fixed credentials: not secrets, but handled exactly like real ones."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field

# Fixed so that `sandbox serve` and the in-process sandbox accept the same values across runs.
_KLAVIYO_KEY = "pk_sandbox_5f2c9a1e7b3d4068a9c1e2f3b4d5a6c7"
_IPAAS_TOKEN = "ipaas_sandbox_9d41c7e2a85b4f16b03e7a2c5d8f1e64"
_IPAAS_PASSWORD = "sandbox-password"
# In-process only, never dialled: the sandbox transport routes by path alone.
IN_PROCESS_BASE_URL = "http://127.0.0.1"


@dataclass(frozen=True)
class SandboxCredentials:
    """What a client needs to talk to the sandbox; secret fields stay out of repr()."""

    klaviyo_api_key: str = field(default=_KLAVIYO_KEY, repr=False)
    ipaas_token: str = field(default=_IPAAS_TOKEN, repr=False)
    ipaas_system_id: str = "4242"
    base_url: str = IN_PROCESS_BASE_URL
    ipaas_email: str = "operator@sandbox.example"
    ipaas_password: str = field(default=_IPAAS_PASSWORD, repr=False)
    ipaas_company_id: str = "3b9e2f4a-6c1d-4e8b-a7f5-0d2c9b8e1a34"

    def at(self, base_url: str) -> SandboxCredentials:
        """The same credentials served from another base URL."""
        return dataclasses.replace(self, base_url=base_url.rstrip("/"))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values a secret scanner must never find in logs or records."""
        return (self.klaviyo_api_key, self.ipaas_token, self.ipaas_password)


def export_lines(creds: SandboxCredentials, base_url: str) -> list[str]:
    """The shell lines of design §8, in its order, for `eval "$(klaviyo-console sandbox serve)"`."""
    base = base_url.rstrip("/")
    pairs = (
        ("KLAVIYO_BASE_URL", base),
        ("KLAVIYO_API_KEY", creds.klaviyo_api_key),
        ("IPAAS_BASE_URL", base),
        ("IPAAS_API_TOKEN", creds.ipaas_token),
        ("IPAAS_SYSTEM_ID", creds.ipaas_system_id),
    )
    return [f"export {name}={shlex.quote(value)}" for name, value in pairs]
