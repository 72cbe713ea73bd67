"""Klaviyo's per-endpoint rate limits: a 1 s burst and a 60 s steady fixed window per bucket.

`rate_scale` multiplies the window lengths (0.01 turns the 60 s window into 0.6 s) and leaves
the counts alone, so a scaled benchmark meets the same number of 429s in less wall time.
A scale of 0 disables limiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BURST_SECONDS = 1.0
STEADY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Tier:
    """Requests allowed per burst window and per steady window."""

    burst: int
    steady: int


XS = Tier(1, 15)
S = Tier(3, 60)
M = Tier(10, 150)
L = Tier(75, 750)  # 750/m from revision 2026-01-15 (700/m before)
XL = Tier(350, 3500)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one request against its buckets."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after: float


@dataclass(slots=True)
class _Window:
    started: float
    count: int


class RateLimiter:
    """Fixed-window counters per bucket, on an injected clock."""

    def __init__(self, *, scale: float = 1.0) -> None:
        if scale < 0 or math.isnan(scale):
            raise ValueError(f"rate scale must be 0 or more, got {scale}")
        self.scale = scale
        self._burst: dict[str, _Window] = {}
        self._steady: dict[str, _Window] = {}

    def check(self, buckets: list[tuple[str, Tier]], now: float) -> Verdict:
        """Count one request against every bucket, or refuse it if any window is full."""
        first_tier = buckets[0][1]
        if self.scale == 0:
            return Verdict(True, first_tier.steady, first_tier.steady, 0.0, 0.0)
        burst_len = BURST_SECONDS * self.scale
        steady_len = STEADY_SECONDS * self.scale
        wait = 0.0
        windows: list[tuple[_Window, _Window]] = []
        for name, tier in buckets:
            burst = self._current(self._burst, name, now, burst_len)
            steady = self._current(self._steady, name, now, steady_len)
            if burst.count >= tier.burst:
                wait = max(wait, burst.started + burst_len - now)
            if steady.count >= tier.steady:
                wait = max(wait, steady.started + steady_len - now)
            windows.append((burst, steady))
        base_steady = windows[0][1]
        reset = max(0.0, base_steady.started + steady_len - now)
        if wait > 0:
            return Verdict(False, first_tier.steady, 0, reset, wait)
        for burst, steady in windows:
            burst.count += 1
            steady.count += 1
        return Verdict(True, first_tier.steady, first_tier.steady - base_steady.count, reset, 0.0)

    @staticmethod
    def _current(table: dict[str, _Window], name: str, now: float, length: float) -> _Window:
        window = table.get(name)
        if window is None or now >= window.started + length:
            window = _Window(now, 0)
            table[name] = window
        return window


def seconds_header(seconds: float, scale: float) -> str:
    """Whole seconds (at least 1) at real scale; a decimal when windows are scaled."""
    if scale >= 1:
        return str(max(1, math.ceil(seconds)))
    return f"{max(seconds, 0.001):.3f}"
