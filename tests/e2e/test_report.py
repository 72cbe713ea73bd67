"""`klaviyo-console report`: a template's impact counted from the same plans preview shows,
with nothing written anywhere."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Config
from core.engine import Engine
from core.sandbox import DEMO_SEED, Knobs, Sandbox
from tests.e2e.conftest import LISTS, Cli, customer, template_with_custom_fields


class Recording(httpx.AsyncBaseTransport):
    """Every request's method and path, passed on to the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)


async def open_engine(tmp_path: Path, seed: Path, template: Path | None = None
                      ) -> tuple[Engine, Recording]:
    state = tmp_path / "state"
    config = Config(state_dir=state, sandbox=True, sandbox_seed=seed, retry_attempts=1,
                    template_path=template)
    sandbox = Sandbox(state, seed=seed, knobs=Knobs(rate_scale=0.001))
    wire = Recording(sandbox.transport)
    return await Engine.open(config, sandbox=sandbox, transport=wire), wire


def generated_seed(path: Path, count: int = 80) -> tuple[Path, list[str]]:
    """Customers new, matched by email, linked, without identifier, opted out, in random mixes."""
    rng = random.Random(16)
    customers: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    links: dict[str, str] = {}
    for n in range(count):
        cid = 90000 + n
        email = f"person{n}@example.com" if rng.random() > 0.1 else None
        fields = {"SubscribeProfile": rng.choice(["true", "false", ""]),
                  "Sms": rng.choice(["true", "false"]), "Preview": rng.choice(["true", "false"])}
        customers.append(customer(cid, email=email, first=rng.choice(["Ann", "Bo", "Cy"]),
                                  last=f"L{n}", company=rng.choice([None, "Acme"]),
                                  number=rng.choice([None, "(312) 204-1187", "12"]),
                                  fields=fields, address=rng.random() > 0.3))
        if email and rng.random() < 0.6:
            profiles.append({"attributes": {"email": email, "first_name": rng.choice(["Ann", "Al"]),
                                            "title": rng.choice([None, "Dr"])},
                             "subscriptions": {"email": rng.choice(
                                 ["SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"])},
                             "lists": rng.choice([[], ["Preview List"]])})
            if rng.random() < 0.5:
                links[str(cid)] = email
    path.write_text(json.dumps({"customers": customers, "profiles": profiles, "lists": LISTS,
                                "links": links,
                                "account": {"opt_in_process": "single_opt_in"}}),
                    encoding="utf-8")
    return path, [str(c["id"]) for c in customers]


def tally(plans: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts of design §9's report, tallied independently from preview --json documents."""
    routes = Counter({"create": 0, "update": 0, "link": 0, "blocked": 0})
    fields: dict[str, Counter[str]] = {}
    consent = Counter({"subscribe": 0, "unsubscribe": 0, "consent-email": 0, "resubscribe": 0})
    lists: dict[str, Counter[str]] = {}
    confirm = 0
    for plan in plans:
        routes[plan["route"]] += 1
        if plan["route"] == "blocked":
            continue
        for diff in plan["diff"]:
            fields.setdefault(diff["field"], Counter())[diff["change"]] += 1
        for change in plan["consent"]:
            consent[change["action"]] += 1
        for reason in plan["guard"]["reasons"]:
            if reason["kind"] in ("consent-email", "resubscribe"):
                consent[reason["kind"]] += 1
        confirm += plan["guard"]["confirm_needed"]
        for item in plan["lists"]:
            lists.setdefault(item["list"], Counter())[item["action"]] += 1
    return {"customers": len(plans), "routes": dict(routes), "consent": dict(consent),
            "confirm_needed": confirm,
            "fields": {k: {c: n for c, n in v.items() if n} for k, v in fields.items()},
            "lists": {k: {a: n for a, n in v.items() if n} for k, v in lists.items()}}


def nonzero(report: dict[str, Any]) -> dict[str, Any]:
    return {**{k: report[k] for k in ("customers", "routes", "consent", "confirm_needed")},
            "fields": {k: {c: n for c, n in v.items() if n} for k, v in report["fields"].items()},
            "lists": {k: {a: n for a, n in v.items() if n} for k, v in report["lists"].items()}}


@pytest.mark.parametrize("data", ["demo", "generated"])
async def test_report_counts_equal_what_preview_says_customer_by_customer(
        tmp_path: Path, data: str) -> None:
    if data == "demo":
        seed, template = DEMO_SEED, None
        ids = [str(c["id"]) for c in json.loads(DEMO_SEED.read_text())["customers"]]
    else:
        seed, ids = generated_seed(tmp_path / "seed.json")
        template = template_with_custom_fields(tmp_path / "template.toml")
    engine, _ = await open_engine(tmp_path, seed, template)
    try:
        found = await engine.report(ids)
        previews = []
        for cid in ids:
            plan = await engine.preview(cid)
            previews.append(plan.to_json())
            assert plan.route is found.plans[cid].route, cid
            if plan.blocked:
                assert found.report.to_json()["blocked"][plan.error_kind.value] >= 1
        body = found.report.to_json()
        assert nonzero(body) == tally(previews)
        assert sum(body["blocked"].values()) == body["routes"]["blocked"]
        for bucket, sample in body["samples"].items():
            assert sample and set(sample) <= set(ids), bucket
    finally:
        await engine.close()


async def test_report_writes_nothing_anywhere(tmp_path: Path) -> None:
    seed, ids = generated_seed(tmp_path / "seed.json", count=30)
    engine, wire = await open_engine(tmp_path, seed,
                                     template_with_custom_fields(tmp_path / "t.toml"))
    try:
        state_before = json.dumps(engine.sandbox.klaviyo.dump(), sort_keys=True)  # type: ignore[union-attr]
        ipaas_before = json.dumps(engine.sandbox.ipaas.dump(), sort_keys=True)  # type: ignore[union-attr]
        await engine.report(None)
        await engine.report(ids[:5], compare=tmp_path / "t.toml")
        assert wire.calls and {method for method, _ in wire.calls} == {"GET"}, set(wire.calls)
        assert json.dumps(engine.sandbox.klaviyo.dump(), sort_keys=True) == state_before  # type: ignore[union-attr]
        assert json.dumps(engine.sandbox.ipaas.dump(), sort_keys=True) == ipaas_before  # type: ignore[union-attr]
        assert engine.history.count() == 0
        assert engine.errors.query(limit=10) == []
    finally:
        await engine.close()


def test_report_cli_json_compare_and_csv(cli: Cli, custom_template: Path,
                                         tmp_path: Path) -> None:
    cli.seed([customer(1, email="a@example.com", fields={"SubscribeProfile": "true"}),
              customer(2, email="b@example.com", fields={"SubscribeProfile": "false"}),
              customer(3, email=None, address=False)],
             profiles=[{"attributes": {"email": "b@example.com"},
                        "subscriptions": {"email": "SUBSCRIBED"}}])
    code, body = cli.json("report", "--all")
    assert code == 0
    assert body["customers"] == 3
    assert body["routes"] == {"create": 1, "update": 0, "link": 1, "blocked": 1}
    assert body["blocked"] == {"no_identifier": 1}
    assert body["samples"]["routes.blocked"] == ["3"]
    assert body["fields"]["email"]["added"] == 1

    shipped = tmp_path / "shipped.toml"
    from importlib import resources
    shipped.write_text(resources.files("core.mapping").joinpath("default.toml")
                       .read_text(encoding="utf-8"), encoding="utf-8")
    code, both = cli.json("report", "1", "2", "3", "--compare", str(shipped))
    assert code == 0
    assert set(both) == {"template", "compare", "differing"}
    assert "2" in both["differing"] and "3" not in both["differing"]

    out_csv = tmp_path / "impact.csv"
    code, _, err = cli.run("report", "--all", "--csv", str(out_csv))
    assert code == 0 and "3 rows" in err
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [r["customer_id"] for r in sorted(rows, key=lambda r: r["customer_id"])] == \
        ["1", "2", "3"]
    assert {r["customer_id"]: r["route"] for r in rows}["3"] == "blocked"

    code, out, _ = cli.run("report", "--all")
    assert code == 0 and "route create" in out and "█" in out

    _, history = cli.json("history")
    _, errors = cli.json("errors")
    assert history == [] and errors == []
    assert cli.link_of("1") is None


@pytest.mark.parametrize("args", [["report"], ["report", "1", "--all"],
                                  ["report", "--all", "--json", "--csv", "x.csv"]])
def test_report_usage_mistakes_exit_2(cli: Cli, args: list[str]) -> None:
    cli.seed([])
    code, out, err = cli.run(*args)
    assert code == 2 and out == "" and err.startswith("klaviyo-console: ")


def test_a_bad_candidate_template_exits_2(cli: Cli, tmp_path: Path) -> None:
    cli.seed([customer(1, email="a@example.com")])
    bad = tmp_path / "bad.toml"
    bad.write_text("[[add.mappings]]\ndestination = 3\n", encoding="utf-8")
    code, _, err = cli.run("report", "--all", "--template", str(bad))
    assert code == 2 and "bad.toml" in err



