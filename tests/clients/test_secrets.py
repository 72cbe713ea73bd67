"""The API key and token never appear in an exception, a repr or a log line."""

from __future__ import annotations

import logging

import httpx
import pytest

from core.clients.http import ApiError, RetryPolicy
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import ConsentSubject, KlaviyoClient
from core.model import Channel
from tests.clients.fakes import KEY, TOKEN, VirtualClock, klaviyo_error

SECRETS = (KEY, TOKEN)


def _failures() -> list[httpx.Response | Exception]:
    """Every way a call can fail; several answers echo the secret back, as a bad proxy might."""
    return [
        klaviyo_error(401, "not_authenticated", f"Key {KEY} is not valid"),
        klaviyo_error(403, "permission_denied", "missing scope"),
        klaviyo_error(404, "not_found", "nope"),
        klaviyo_error(409, "duplicate_profile", "dup", "/data/attributes",
                      {"duplicate_profile_id": "01J0"}),
        klaviyo_error(400, "invalid", f"bad header Klaviyo-API-Key {KEY}", "/data"),
        klaviyo_error(429, "throttled", "slow", headers={"Retry-After": "1"}),
        klaviyo_error(503, "unavailable", "down"),
        httpx.Response(502, text=f"<html><title>Bad gateway {TOKEN}</title></html>",
                       headers={"Content-Type": "text/html"}),
        httpx.Response(401, json={"code": "AUTH-1001", "message": f"token {TOKEN} expired"}),
        httpx.Response(200, text=f"not json {KEY} {TOKEN}"),
        httpx.ConnectError(f"refused while sending Authorization: Bearer {TOKEN}"),
        httpx.ReadTimeout(f"timed out {KEY}"),
    ]


def _scan(texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize("failure", _failures(), ids=lambda f: type(f).__name__)
async def test_no_error_path_leaks(failure: httpx.Response | Exception,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return httpx.Response(failure.status_code, headers=failure.headers,
                              content=failure.content)

    clock = VirtualClock()
    transport = httpx.MockTransport(handler)
    policy = RetryPolicy(max_attempts=2)
    klaviyo = KlaviyoClient(KEY, transport=transport, clock=clock, sleep=clock.sleep,
                            retry=policy)
    ipaas = IpaasClient(TOKEN, "123", transport=transport, clock=clock, sleep=clock.sleep,
                        retry=policy)
    calls = [
        lambda: klaviyo.get_profile("01J0"),
        lambda: klaviyo.create_profile({"email": "a@b.co"}),
        lambda: klaviyo.subscribe([ConsentSubject("a@b.co", None)], channels={Channel.EMAIL}),
        lambda: klaviyo.bulk_import([{"email": "a@b.co"}]),
        lambda: ipaas.get_customer("1"),
        lambda: ipaas.lookup_link("1"),
        lambda: ipaas.store_link("1", "01J0"),
    ]
    texts: list[str] = [repr(klaviyo), str(klaviyo), repr(ipaas), str(ipaas)]
    for call in calls:
        try:
            await call()
        except Exception as error:  # every failure, whatever its type
            chain: BaseException | None = error
            while chain is not None:
                texts += [str(chain), repr(chain), repr(chain.args)]
                if isinstance(chain, ApiError):
                    texts += [repr(vars(chain))]
                chain = chain.__cause__ or chain.__context__
    await klaviyo.aclose()
    await ipaas.aclose()
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert len(texts) > 4
    _scan(texts)


def test_rate_limit_state_and_session_reprs_hold_no_secret() -> None:
    client = KlaviyoClient(KEY)
    _scan([repr(client.rate_limits()), repr(client._session), repr(client)])
