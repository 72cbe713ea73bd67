"""A link iPaaS.com marked `DELETED:` (demo customer 55267) is shown as a stale link, not hidden."""

from __future__ import annotations

from core.sandbox import DEMO_SEED
from tests.e2e.conftest import Cli

GRACE = "01JGFJMN49B96KRART17WF61KM"  # 55267's link is DELETED:<this id>; the profile remains


def demo(cli: Cli) -> None:
    cli.seed_path.write_text(DEMO_SEED.read_text(encoding="utf-8"), encoding="utf-8")


def test_preview_json_names_the_deleted_link_in_the_reason_and_a_warning(cli: Cli) -> None:
    demo(cli)

    code, doc = cli.json("preview", "55267")

    assert code == 0, doc
    # Not linked, so the Add collection matches by email, landing on the same profile again.
    assert (doc["route"], doc["matched_by"], doc["profile_id"]) == ("link", "email", GRACE)
    assert doc["reason"].startswith(f"iPaaS.com link to profile {GRACE} marked deleted; ")
    assert doc["warnings"] == [
        f"stale link: the iPaaS.com link to profile {GRACE} was marked deleted; "
        "treated as not linked (Add collection)"]


def test_preview_text_warns_and_a_push_stores_a_live_link_that_ends_the_warning(
        cli: Cli) -> None:
    demo(cli)

    code, out, _ = cli.run("preview", "55267")
    assert code == 0
    assert "marked deleted" in out and "warning: stale link" in out

    code, pushed = cli.json("push", "55267", "--yes")
    assert code == 0, pushed
    assert cli.link_of("55267") == GRACE

    code, after = cli.json("preview", "55267")
    assert (after["route"], after["matched_by"]) == ("update", "external_id")
    assert not any("marked deleted" in w for w in after["warnings"])
    assert "marked deleted" not in after["reason"]
