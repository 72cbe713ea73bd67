"""A bad SANDBOX_* value is one line naming the variable and exit 2, on every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.cli import main

BAD = [
    ("SANDBOX_FAILURE_RATE", "abc"), ("SANDBOX_FAILURE_RATE", "1.5"),
    ("SANDBOX_LATENCY_MS", "-1"), ("SANDBOX_KLAVIYO_DOWN", "maybe"),
    ("SANDBOX_RATE_SCALE", "0"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
@pytest.mark.parametrize("command", [["preview", "55260"], ["sync", "--all"],
                                     ["sandbox", "serve"], ["errors"]])
def test_a_bad_knob_is_one_clear_line_and_exit_2(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        name: str, value: str, command: list[str]) -> None:
    clean_env.setenv(name, value)

    code = main(["--sandbox", "--state-dir", str(tmp_path / "state"), *command])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert name in line and repr(value) in line
    assert "Traceback" not in err and "internal error" not in err
