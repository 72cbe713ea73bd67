"""Knobs.from_env: the SANDBOX_* variables and the errors bad values give."""

from __future__ import annotations

import pytest

from core.sandbox.knobs import Knobs


def test_defaults_when_nothing_is_set() -> None:
    assert Knobs.from_env({}) == Knobs(0, 0, False, 1.0)


def test_reads_every_variable() -> None:
    env = {"SANDBOX_LATENCY_MS": "250", "SANDBOX_FAILURE_RATE": "0.2",
           "SANDBOX_KLAVIYO_DOWN": "1", "SANDBOX_RATE_SCALE": " 0.01 "}
    assert Knobs.from_env(env) == Knobs(250.0, 0.2, True, 0.01)


@pytest.mark.parametrize("value", ["true", "YES", "on"])
def test_down_switch_words(value: str) -> None:
    assert Knobs.from_env({"SANDBOX_KLAVIYO_DOWN": value}).klaviyo_down


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SANDBOX_LATENCY_MS", "fast"),
        ("SANDBOX_LATENCY_MS", "-5"),
        ("SANDBOX_FAILURE_RATE", "1.5"),
        ("SANDBOX_FAILURE_RATE", "nan"),
        ("SANDBOX_KLAVIYO_DOWN", "maybe"),
        ("SANDBOX_RATE_SCALE", "0"),
        ("SANDBOX_RATE_SCALE", "inf"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name) as error:
        Knobs.from_env({name: value})
    assert repr(value) in str(error.value)


def test_constructor_checks_ranges() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        Knobs(failure_rate=2)
