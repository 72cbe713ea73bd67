"""One verdict of a production self-check: what was checked, pass, fail or warn, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of `check`: the item, its verdict, what was found and (unless it passed) the fix."""

    item: str
    status: CheckStatus
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status is CheckStatus.PASS

    def to_json(self) -> dict[str, str]:
        return {"item": self.item, "status": self.status.value, "detail": self.detail,
                "fix": self.fix}
