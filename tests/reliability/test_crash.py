"""Issue 8 item 2: kill -9 mid-batch, 20 times; every file loads, reruns finish, no duplicates."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.crash import crash_soak


def test_twenty_kills_mid_batch_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    figures = crash_soak(tmp_path, kills=20, seed=9)

    assert figures.kills == 20, figures
    assert figures.duplicates == []
    assert figures.unaccounted == []
    assert figures.wrong_links == []
    # No faults are injected here: every rerun finishes its batch cleanly.
    assert figures.rerun_exit_codes == {0: figures.reruns}, figures
    assert figures.open_errors_final == 0
    # Some kills landed inside batches, not only before the first push or after the last.
    assert (any(figures.progress_at_kill) or any(figures.remote_writes_at_kill)
            or figures.half_done_at_kill), figures
