"""Start-up: collections wait for the first frame and resume, whatever the app's fate."""

from __future__ import annotations

import gc

from tests.ui.helpers import settle


async def test_collections_are_deferred_to_the_first_frame_then_resumed(make_app, stub):
    app = make_app(stub)
    seen: list[bool] = []
    original = app.resume_gc

    def resume() -> None:
        seen.append(gc.isenabled())  # still deferred when the first frame is up
        original()

    app.resume_gc = resume  # type: ignore[method-assign]
    assert gc.isenabled()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert seen and seen[0] is False
        assert gc.isenabled()
    assert gc.isenabled()


async def test_a_caller_that_disabled_collections_keeps_them_disabled(make_app, stub):
    gc.disable()
    try:
        app = make_app(stub)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
