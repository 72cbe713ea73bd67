"""The Sandbox: routing, knobs, seeding once per state dir, persistence and its debounce."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.sandbox import Knobs, Sandbox, SandboxSeedError
from core.sandbox.faults import Fault

from .conftest import FakeKlaviyo, customer

IPAAS = "/customers/v2/Customer/101"


def write_seed(path: Path, **extra: Any) -> Path:
    seed = {
        "customers": [customer(101, "ann@example.com"), customer(102, "bob@example.com"),
                      customer(103), customer(104)],
        "profiles": [{"id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "attributes": {"email": "x@example.com"}},
                     {"attributes": {"email": "Bob@Example.com"}}],
        "lists": [{"name": "Preview List", "opt_in_process": "single_opt_in"}],
        "links": {"101": "01JAAAAAAAAAAAAAAAAAAAAAAA", "102": "bob@example.com",
                  "103": "#1", "104": "01JSTALE0000000000000000000"},
        **extra,
    }
    path.write_text(json.dumps(seed))
    return path


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FixedFault(random.Random):
    """Always fails, always with the given fault."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(0)
        self.fault = fault

    def random(self) -> float:
        return 0.0

    def choice(self, seq: Any) -> Any:
        return self.fault


def make(tmp_path: Path, *, persist: bool = True, **kw: Any) -> Sandbox:
    tmp_path.mkdir(parents=True, exist_ok=True)
    seed = write_seed(tmp_path / "seed.json")
    kw.setdefault("klaviyo", FakeKlaviyo())
    return Sandbox(tmp_path if persist else None, seed=seed, **kw)


def client(sandbox: Sandbox, token: str | None = None) -> httpx.AsyncClient:
    creds = sandbox.credentials
    return httpx.AsyncClient(
        transport=sandbox.transport, base_url=creds.base_url,
        headers={"Authorization": f"Bearer {token or creds.ipaas_token}"},
    )


async def test_routes_by_path_prefix(tmp_path: Path) -> None:
    sandbox = make(tmp_path)
    fake = sandbox.klaviyo
    assert isinstance(fake, FakeKlaviyo)
    async with client(sandbox) as http:
        assert (await http.get(IPAAS)).json()["id"] == 101
        assert (await http.get("/api/profiles")).status_code == 200
        login = await http.post("/sso/v2/Auth/Login", json={
            "email_address": sandbox.credentials.ipaas_email,
            "password": sandbox.credentials.ipaas_password})
        assert login.status_code == 200
        assert (await http.get("/other")).status_code == 404
    assert fake.seen == ["/api/profiles"]


async def test_links_resolve_by_id_email_and_index_and_stale_ones_stay(tmp_path: Path) -> None:
    sandbox = make(tmp_path)
    assert sandbox.ipaas.link_of("101") == "01JAAAAAAAAAAAAAAAAAAAAAAA"
    assert sandbox.ipaas.link_of("102") == "S1"  # the fake's id for seeded profile 1
    assert sandbox.ipaas.link_of("103") == "S1"
    assert sandbox.ipaas.link_of("104") == "01JSTALE0000000000000000000"


async def test_klaviyo_down_refuses_api_calls_only(tmp_path: Path) -> None:
    sandbox = make(tmp_path, knobs=Knobs(klaviyo_down=True))
    async with client(sandbox) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/api/profiles")
        assert (await http.get(IPAAS)).status_code == 200


async def test_latency_is_added_to_every_response(tmp_path: Path) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    sandbox = make(tmp_path, knobs=Knobs(latency_ms=250), sleep=sleep)
    async with client(sandbox) as http:
        await http.get(IPAAS)
        await http.get("/api/profiles")
        await http.get("/customers/v2/Customer/999")
    assert slept == [0.25, 0.25, 0.25]


@pytest.mark.parametrize("service", ["ipaas", "klaviyo"])
async def test_error_pages_never_reach_the_emulator(tmp_path: Path, service: str) -> None:
    path = IPAAS if service == "ipaas" else "/api/profiles"
    for fault, status in ((Fault.SERVER_ERROR, 500), (Fault.UNAVAILABLE, 503),
                          (Fault.BAD_GATEWAY_HTML, 502)):
        fake = FakeKlaviyo()
        sandbox = make(tmp_path / fault.value / service, knobs=Knobs(failure_rate=0.5),
                       rng=FixedFault(fault), klaviyo=fake)
        async with client(sandbox) as http:
            response = await http.get(path)
        assert response.status_code == status
        assert fake.seen == []
        if fault is Fault.BAD_GATEWAY_HTML:
            assert response.headers["content-type"].startswith("text/html")
            assert "<html>" in response.text
        elif service == "ipaas":
            assert response.json()["code"] == "INTL-1000"
        else:
            assert response.json()["errors"][0]["status"] == status
        if status == 503:
            assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("fault", "error", "handled"),
    [(Fault.RESET, httpx.RemoteProtocolError, False),
     (Fault.CONNECT, httpx.ConnectError, False),
     (Fault.TIMEOUT, httpx.ReadTimeout, True)],
)
async def test_network_faults_raise_httpx_errors(
    tmp_path: Path, fault: Fault, error: type[Exception], handled: bool
) -> None:
    fake = FakeKlaviyo()
    sandbox = make(tmp_path, knobs=Knobs(failure_rate=0.1), rng=FixedFault(fault), klaviyo=fake)
    async with client(sandbox) as http:
        with pytest.raises(error):
            await http.post("/api/profiles", json={"data": {}})
    # A timeout loses the response of a write that did happen.
    assert fake.created == (1 if handled else 0)


async def test_malformed_json_comes_after_the_write(tmp_path: Path) -> None:
    fake = FakeKlaviyo()
    sandbox = make(tmp_path, knobs=Knobs(failure_rate=1), rng=FixedFault(Fault.MALFORMED_JSON),
                   klaviyo=fake)
    async with client(sandbox) as http:
        response = await http.post("/api/profiles", json={"data": {}})
        ipaas = await http.get(IPAAS)
    assert response.status_code == 201
    assert fake.created == 1
    for broken in (response, ipaas):
        with pytest.raises(json.JSONDecodeError):
            json.loads(broken.content)


async def _outcomes(tmp_path: Path, seed: int, count: int) -> list[str]:
    sandbox = make(tmp_path, persist=False, knobs=Knobs(failure_rate=0.2),
                   rng=random.Random(seed))
    outcomes = []
    async with client(sandbox) as http:
        for _ in range(count):
            try:
                response = await http.get(IPAAS)
                if response.headers["content-type"].startswith("text/html"):
                    outcomes.append(f"{response.status_code}-html")
                    continue
                try:
                    response.json()
                    outcomes.append(str(response.status_code))
                except ValueError:
                    outcomes.append(f"{response.status_code}-malformed")
            except httpx.TransportError as exc:
                outcomes.append(type(exc).__name__)
    return outcomes


async def test_failure_rate_is_reproducible_with_a_seeded_rng(tmp_path: Path) -> None:
    first = await _outcomes(tmp_path, 7, 400)
    assert first == await _outcomes(tmp_path, 7, 400)
    failures = [o for o in first if o != "200"]
    assert 40 <= len(failures) <= 120  # 0.2 of 400, with this seed
    assert {"500", "503", "502-html", "200-malformed", "ReadTimeout", "RemoteProtocolError",
            "ConnectError"} <= set(failures)


async def test_seeding_happens_once_per_state_dir(tmp_path: Path) -> None:
    sandbox = make(tmp_path)
    state_file = tmp_path / "sandbox" / "state.json"
    assert state_file.exists()
    async with client(sandbox) as http:
        stored = await http.post("/customers/v2/External/UpdateExternalId", json={
            "table_name": "customer", "system_id": sandbox.credentials.ipaas_system_id,
            "external_id": "01JNEWPROFILE", "internal_id": "103"})
        assert stored.status_code == 200
        await http.post("/api/profiles", json={"email": "new@example.com"})
    await sandbox.aclose()
    other_seed = tmp_path / "other.json"
    other_seed.write_text(json.dumps({"customers": [customer(999)]}))
    again = Sandbox(tmp_path, seed=other_seed, klaviyo=FakeKlaviyo())
    assert again.ipaas.link_of("103") == "01JNEWPROFILE"
    assert "999" not in again.ipaas.customers
    assert isinstance(again.klaviyo, FakeKlaviyo)
    assert {"email": "new@example.com"} in again.klaviyo.profiles.values()
    assert again.seeded_from == "seed.json"


async def test_writes_are_debounced_and_flushed_on_close(tmp_path: Path) -> None:
    clock = Clock()
    sandbox = make(tmp_path, clock=clock)
    state_file = tmp_path / "sandbox" / "state.json"

    def saved_name() -> str:
        state = json.loads(state_file.read_text())
        return str(next(c for c in state["ipaas"]["customers"] if c["id"] == "101")["first_name"])

    sandbox.ipaas.update_customer("101", first_name="Burst1")
    sandbox.ipaas.update_customer("101", first_name="Burst2")
    assert saved_name() == "First101"  # within a second of the last write: deferred
    clock.now += 1.5
    sandbox.ipaas.update_customer("101", first_name="Later")
    assert saved_name() == "Later"
    sandbox.ipaas.update_customer("101", first_name="Final")
    await sandbox.aclose()
    assert saved_name() == "Final"
    assert not list((tmp_path / "sandbox").glob("*.tmp"))


async def test_deferred_flush_runs_on_the_loop(tmp_path: Path) -> None:
    clock = Clock()
    sandbox = make(tmp_path, clock=clock)
    sandbox.ipaas.update_customer("101", first_name="Deferred")
    pending = sandbox._pending
    assert pending is not None
    pending._run()  # what the loop does when the timer fires
    state = json.loads((tmp_path / "sandbox" / "state.json").read_text())
    assert any(c["first_name"] == "Deferred" for c in state["ipaas"]["customers"])


def test_without_a_state_dir_nothing_is_written(tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "seed.json")
    sandbox = Sandbox(None, seed=seed, klaviyo=FakeKlaviyo())
    sandbox.ipaas.update_customer("101", first_name="X")
    sandbox.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.json"]


def test_change_listeners_hear_customer_scopes(tmp_path: Path) -> None:
    sandbox = make(tmp_path)
    heard: list[tuple[str, str]] = []
    sandbox.add_change_listener(lambda scope, cid: heard.append((scope, cid)))
    sandbox.ipaas.update_customer("102", last_name="Changed")
    sandbox.ipaas.upsert_customer(customer(555))
    assert heard == [("customer/updated", "102"), ("customer/created", "555")]


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"),
     ("[]", "JSON object"),
     ('{"customers": {}}', "'customers' must be a list"),
     ('{"people": []}', "unknown top-level keys"),
     ('{"links": {"1": 5}}', "'links'"),
     ('{"customers": [{"id": 1, "addresses": 3}]}', "addresses")],
)
def test_bad_seed_files_name_the_file_and_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    seed = tmp_path / "bad.json"
    seed.write_text(content)
    with pytest.raises(SandboxSeedError, match=message) as error:
        Sandbox(tmp_path / "state", seed=seed, klaviyo=FakeKlaviyo())
    assert "bad.json" in str(error.value)


def test_missing_seed_file(tmp_path: Path) -> None:
    with pytest.raises(SandboxSeedError, match="cannot read"):
        Sandbox(None, seed=tmp_path / "nope.json", klaviyo=FakeKlaviyo())


def test_corrupt_state_says_how_to_recover(tmp_path: Path) -> None:
    make(tmp_path)
    (tmp_path / "sandbox" / "state.json").write_text('{"version": 1, "ipaas": ')
    with pytest.raises(SandboxSeedError, match="delete it"):
        make(tmp_path)


def test_credentials_keep_secrets_out_of_repr(tmp_path: Path) -> None:
    creds = make(tmp_path).credentials
    text = repr(creds)
    for secret in creds.secrets:
        assert secret not in text
    assert creds.ipaas_system_id in text
