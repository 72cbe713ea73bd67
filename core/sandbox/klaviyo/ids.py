"""Klaviyo's id formats: ULID profiles and jobs, 6-character lists, UUID4 errors."""

from __future__ import annotations

import hashlib
import os
import random
import re
import uuid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two characters per 10 bits: 13 table lookups make one ULID.
_PAIRS = [_CROCKFORD[n >> 5] + _CROCKFORD[n & 31] for n in range(1024)]
_TO_INT_DIGITS = str.maketrans(_CROCKFORD, "0123456789abcdefghijklmnopqrstuv")
_SHIFTS = tuple(range(120, -1, -10))
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
LIST_ID_PATTERN = re.compile(r"^[0-9A-Za-z]{6}$")


def encode_ulid(value: int) -> str:
    """Encode a 128-bit integer as 26 Crockford base32 characters."""
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in _SHIFTS])


def decode_ulid(text: str) -> int:
    """Decode 26 Crockford base32 characters into their 128-bit integer."""
    return int(text.translate(_TO_INT_DIGITS), 32)


class UlidSource:
    """Monotonic ULIDs, so that id order is creation order."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._last = 0
        self._rng = rng

    def next(self, epoch_ms: int) -> str:
        """A fresh ULID for a wall-clock time in milliseconds."""
        noise = (self._rng.getrandbits(80) if self._rng is not None
                 else int.from_bytes(os.urandom(10), "big"))
        candidate = (epoch_ms << 80) | noise
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return encode_ulid(candidate)

    def observe(self, ulid: str) -> None:
        """Keep later ids after one that came from elsewhere (a seed or a loaded state)."""
        if is_ulid(ulid):
            self._last = max(self._last, decode_ulid(ulid))


def is_ulid(text: str) -> bool:
    """Whether text is a 26-character Crockford base32 ULID."""
    return bool(ULID_PATTERN.match(text))


def list_id_for(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A stable 6-character mixed-case id derived from a list name."""
    salt = 0
    while True:
        digest = hashlib.sha256(f"{name}\x00{salt}".encode()).digest()
        number = int.from_bytes(digest[:8], "big")
        chars = []
        for _ in range(6):
            number, rest = divmod(number, 62)
            chars.append(_BASE62[rest])
        candidate = "".join(chars)
        if candidate not in taken:
            return candidate
        salt += 1


def error_id() -> str:
    """A UUID4 for one error object."""
    return str(uuid.uuid4())
