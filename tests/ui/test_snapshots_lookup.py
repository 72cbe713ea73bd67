"""SVG snapshots of the lookup, its preview of each kind of plan, and the push dialog, at 80x24
and 120x36, on the real console over the demo sandbox (ids and times fixed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.helpers import SIZES, keys
from tests.ui.sandbox_app import sandbox_app

pytestmark = pytest.mark.usefixtures("in_tmp")

CASES = {
    "lookup": (),
    "preview-update": (*"55264", "enter"),
    "preview-create": (*"55300", "enter"),
    "preview-blocked": (*"55330", "enter"),
    "preview-stale-link": (*"55265", "enter"),
    "push-dialog": (*"55262", "enter", "f5"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES)
def test_lookup_screens(snap_compare, case, size):
    app = sandbox_app(Path("state"))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=keys(*CASES[case]))
