"""The sandbox's fault and speed knobs (design §8), read from the environment."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class Knobs:
    """Latency, random failures, Klaviyo outage and rate-limit window scale for the sandbox."""

    latency_ms: float = 0
    failure_rate: float = 0
    klaviyo_down: bool = False
    rate_scale: float = 1.0

    def __post_init__(self) -> None:
        _check_number("latency_ms", self.latency_ms, low=0)
        _check_number("failure_rate", self.failure_rate, low=0, high=1)
        _check_number("rate_scale", self.rate_scale, low=0, low_open=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Knobs:
        """Read the SANDBOX_* variables; a bad value is a ValueError naming the variable."""
        return cls(
            latency_ms=_number(env, "SANDBOX_LATENCY_MS", 0.0, low=0,
                               hint="milliseconds added to every response, e.g. 250"),
            failure_rate=_number(env, "SANDBOX_FAILURE_RATE", 0.0, low=0, high=1,
                                 hint="a fraction between 0 and 1, e.g. 0.2"),
            klaviyo_down=_flag(env, "SANDBOX_KLAVIYO_DOWN"),
            rate_scale=_number(env, "SANDBOX_RATE_SCALE", 1.0, low=0, low_open=True,
                               hint="a positive multiplier of rate-limit windows, e.g. 1"),
        )


def _check_number(
    name: str, value: float, *, low: float, high: float | None = None, low_open: bool = False
) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"Knobs.{name} must be a finite number, got {value!r}")
    if value < low or (low_open and value == low) or (high is not None and value > high):
        bound = f"> {low}" if low_open else f">= {low}"
        if high is not None:
            bound += f" and <= {high}"
        raise ValueError(f"Knobs.{name} must be {bound}, got {value!r}")


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    low: float,
    hint: str,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number; expected {hint}") from None
    in_range = math.isfinite(value) and value >= low and not (low_open and value == low)
    if not in_range or (high is not None and value > high):
        raise ValueError(f"{name}={raw!r} is out of range; expected {hint}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name}={env[name]!r} is not a switch; expected 1 or 0 (true/false)")
