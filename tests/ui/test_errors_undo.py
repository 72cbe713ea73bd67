"""The errors screen names the push a failed undo was reversing, from the record's field."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import DataTable

from core.model import ErrorKind
from tests.ui.helpers import settle, text_of


async def test_a_failed_undo_reads_undo_of_push_in_the_table_and_the_detail(make_app, stub):
    record = stub.add_error("55260", ErrorKind.API_UNAVAILABLE,
                            "Klaviyo profile write failed: Service unavailable.")
    stub.errors.add(replace(record, undo_of="H-000001-0007"))
    plain = stub.add_error("1001", ErrorKind.API_UNAVAILABLE, "Klaviyo profile write failed")
    async with make_app(stub).run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        table = pilot.app.screen.query_one("#error-table", DataTable)
        assert str(table.get_cell(record.id, "message")).startswith(
            "undo of push H-000001-0007: Klaviyo profile write failed")
        assert str(table.get_cell(plain.id, "message")) == "Klaviyo profile write failed"
        table.move_cursor(row=table.get_row_index(record.id))
        await settle(pilot)
        assert "What happened: undo of push H-000001-0007: Klaviyo" in text_of(
            pilot, "#error-detail")
