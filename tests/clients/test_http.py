"""Errors in the services' own terms, kinds for the error log, and the retry loop."""

from __future__ import annotations

import httpx
import pytest

from core.clients.errors import ApiError, error_from_response, parse_retry_after
from core.clients.http import RetryPolicy
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import KlaviyoClient
from core.model import ErrorKind
from tests.clients.fakes import (
    KEY,
    TOKEN,
    Recorder,
    VirtualClock,
    jsonapi,
    klaviyo_error,
    profile_resource,
    sequence,
)


def _response(status: int, content: bytes | str, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> httpx.Response:
    raw = content.encode() if isinstance(content, str) else content
    return httpx.Response(
        status, content=raw, headers={"Content-Type": content_type, **(headers or {})},
        request=httpx.Request("POST", "https://a.klaviyo.com/api/profiles"),
    )


def test_klaviyo_duplicate_body_is_read_in_full() -> None:
    response = klaviyo_error(409, "duplicate_profile",
                             "A profile already exists with one of these identifiers.",
                             "/data/attributes",
                             {"duplicate_profile_id": "01JAFS0VVWGJFE7QE4EJQBA5AS"})
    response.request = httpx.Request("POST", "https://a.klaviyo.com/api/profiles")
    error = error_from_response("klaviyo", response)
    assert (error.status, error.code) == (409, "duplicate_profile")
    assert error.pointer == "/data/attributes"
    assert error.duplicate_profile_id == "01JAFS0VVWGJFE7QE4EJQBA5AS"
    assert error.kind is ErrorKind.CONFLICT and not error.transient
    assert "POST /api/profiles" in str(error) and "already exists" in str(error)


@pytest.mark.parametrize(
    ("status", "pointer", "detail", "kind"),
    [
        (400, "/data/attributes/phone_number",
         "Invalid phone number format (Example of a valid format: +12345678901)",
         ErrorKind.PHONE_REJECTED),
        (400, "/data", "'phone_number' must not be empty when the sms channel is included",
         ErrorKind.PHONE_REJECTED),
        (400, "/data/attributes/email", "Invalid email address", ErrorKind.VALIDATION),
        (401, None, "Missing or invalid private key.", ErrorKind.AUTH),
        (403, None, "You do not have permission", ErrorKind.AUTH),
        (404, None, "A profile with id x does not exist.", ErrorKind.NOT_FOUND),
        (413, None, "Payload too large", ErrorKind.VALIDATION),
        (415, None, "Unsupported media type", ErrorKind.VALIDATION),
        (429, "/data", "Request was throttled.", ErrorKind.RATE_LIMITED),
        (500, None, "Internal error", ErrorKind.API_UNAVAILABLE),
        (503, None, "Service unavailable", ErrorKind.API_UNAVAILABLE),
    ],
)
def test_kind_follows_status_and_pointer(status: int, pointer: str | None, detail: str,
                                         kind: ErrorKind) -> None:
    response = klaviyo_error(status, "invalid", detail, pointer)
    response.request = httpx.Request("GET", "https://a.klaviyo.com/api/profiles")
    error = error_from_response("klaviyo", response)
    assert error.kind is kind
    assert error.transient is (status in (429, 500, 503))


def test_connection_failures_are_unavailable_and_transient() -> None:
    error = ApiError("klaviyo", code="connection_error", detail="refused")
    assert error.kind is ErrorKind.API_UNAVAILABLE and error.transient


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ('{"code": "NFND-1005", "message": "iPaaS.com Id (Id:55260) not found"}',
         "NFND-1005", "not found"),
        ('{"error_code": "AUTH-1001", "Message": "Token expired"}', "AUTH-1001", "expired"),
        ('{"errors": [{"code": "VALD-1017", "detail": "Invalid System Id"}]}', "VALD-1017",
         "System Id"),
        ('"BIZL-2001: duplicate customer"', "BIZL-2001", "duplicate"),
        ('{"title": "One or more validation errors occurred.", "status": 400,'
         ' "errors": {"EmailAddress": ["The EmailAddress field is not valid."]}}',
         None, "EmailAddress: The EmailAddress field is not valid."),
        ('{"message": "Something failed: INTL-0001 try later"}', "INTL-0001", "try later"),
    ],
)
def test_ipaas_coded_bodies(body: str, code: str | None, needle: str) -> None:
    error = error_from_response("ipaas", _response(404, body))
    assert error.code == code
    assert needle in (error.detail or "")


@pytest.mark.parametrize(
    ("content", "content_type", "needle"),
    [
        ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
         "text/html", "HTML page (502 Bad Gateway)"),
        ("<!DOCTYPE html><p>oops", "application/json", "HTML page"),
        ('{"errors": [', "application/vnd.api+json", "unreadable error body"),
        ("", "application/json", "HTTP 502"),
        ("{}", "application/json", "without a message"),
        (b"\xff\xfe\x00garbage", "application/json", "unreadable"),
    ],
)
def test_garbled_error_bodies_become_clear_errors(content: str | bytes, content_type: str,
                                                  needle: str) -> None:
    error = error_from_response("klaviyo", _response(502, content, content_type))
    assert needle in str(error)
    assert error.kind is ErrorKind.API_UNAVAILABLE


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), ("1.5", 1.5), (" 0 ", 0.0), ("-4", 0.0), ("soon", None), (None, None),
     ("nan", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_forms(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=1445412480.0 + 1e9) == seconds


def test_retry_after_http_date_in_the_future() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def _klaviyo(handler: Recorder, clock: VirtualClock, **kw: object) -> KlaviyoClient:
    """A client whose sleeps are all retry sleeps (the limiter is tested on its own)."""
    options: dict[str, object] = {"limiter": False, **kw}
    return KlaviyoClient(KEY, transport=handler.transport, clock=clock, sleep=clock.sleep,
                         rand=lambda: 0.0, **options)  # type: ignore[arg-type]


PID = "01J0000000000000000000000A"
OK_PROFILE = jsonapi(200, {"data": profile_resource(PID, {"email": "a@b.co"})})


async def test_429_with_retry_after_then_success() -> None:
    clock = VirtualClock()
    throttled = klaviyo_error(429, "throttled", "Request was throttled.", "/data",
                              headers={"Retry-After": "3"})
    handler = Recorder(sequence(throttled, OK_PROFILE))
    async with _klaviyo(handler, clock, limiter=True) as client:
        profile = await client.get_profile("01J0000000000000000000000A")
    assert profile is not None and profile.email == "a@b.co"
    assert len(handler.requests) == 2
    assert sum(clock.slept) >= 3.0  # never before Retry-After
    assert client.rate_limits()["GET /api/profiles/{id}"].throttled == 1


async def test_429_with_decimal_retry_after_then_success() -> None:
    clock = VirtualClock()
    throttled = klaviyo_error(429, "throttled", "Request was throttled.",
                              headers={"Retry-After": "0.25"})
    handler = Recorder(sequence(throttled, OK_PROFILE))
    async with _klaviyo(handler, clock) as client:
        assert await client.get_profile("01J0000000000000000000000A") is not None
    assert 0.25 <= sum(clock.slept) < 1.0


async def test_429_without_retry_after_backs_off() -> None:
    clock = VirtualClock()
    throttled = klaviyo_error(429, "throttled", "Request was throttled.")
    handler = Recorder(sequence(throttled, throttled, OK_PROFILE))
    async with _klaviyo(handler, clock) as client:
        assert await client.get_profile("01J0000000000000000000000A") is not None
    assert len(handler.requests) == 3 and sum(clock.slept) > 0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_then_success(status: int) -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(klaviyo_error(status, "error", "Try again"), OK_PROFILE))
    async with _klaviyo(handler, clock) as client:
        assert await client.get_profile("01J0000000000000000000000A") is not None
    assert len(handler.requests) == 2


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("Connection refused"), httpx.ReadTimeout("timed out"),
     httpx.RemoteProtocolError("peer closed connection")],
)
async def test_connection_failure_then_success(failure: Exception) -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(failure, OK_PROFILE))
    async with _klaviyo(handler, clock) as client:
        assert await client.get_profile("01J0000000000000000000000A") is not None
    assert len(handler.requests) == 2


async def test_a_create_is_retried_after_a_503() -> None:
    clock = VirtualClock()
    resource = profile_resource("01J0000000000000000000000B", {"email": "n@b.co"})
    created = jsonapi(201, {"data": resource})
    handler = Recorder(sequence(klaviyo_error(503, "error", "busy"), created))
    async with _klaviyo(handler, clock) as client:
        profile = await client.create_profile({"email": "n@b.co"})
    assert profile.id == "01J0000000000000000000000B"
    assert [r.method for r in handler.requests] == ["POST", "POST"]
    assert handler.requests[0].content == handler.requests[1].content


async def test_gives_up_after_max_attempts() -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(klaviyo_error(503, "error", "Service unavailable")))
    policy = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30, total_timeout=1000)
    async with _klaviyo(handler, clock, retry=policy) as client:
        with pytest.raises(ApiError) as caught:
            await client.get_profile("01J0000000000000000000000A")
    assert len(handler.requests) == 4
    assert caught.value.kind is ErrorKind.API_UNAVAILABLE
    assert caught.value.attempts == 4 and "after 4 attempts" in str(caught.value)
    assert clock.slept == [0.25, 0.5, 1.0]  # exponential, with rand()=0 the lowest jitter


async def test_connection_errors_give_up_as_unavailable() -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(httpx.ConnectError("Connection refused")))
    async with _klaviyo(handler, clock, retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(ApiError) as caught:
            await client.find_profile_by_email("a@b.co")
    assert caught.value.kind is ErrorKind.API_UNAVAILABLE and caught.value.status is None
    assert "could not reach" in str(caught.value)


async def test_total_time_is_bounded() -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(klaviyo_error(503, "error", "busy", headers={"Retry-After": "4"})))
    policy = RetryPolicy(max_attempts=100, total_timeout=10.0)
    start = clock.now
    async with _klaviyo(handler, clock, retry=policy) as client:
        with pytest.raises(ApiError) as caught:
            await client.get_profile("01J0000000000000000000000A")
    assert clock.now - start <= 10.0
    assert len(handler.requests) == 3  # t=0, t≈4, t≈8; a fourth would start past the bound
    assert caught.value.kind is ErrorKind.API_UNAVAILABLE


async def test_backoff_is_capped_by_max_delay() -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(klaviyo_error(500, "error", "boom")))
    policy = RetryPolicy(max_attempts=8, base_delay=1.0, max_delay=4.0, total_timeout=1000)
    client = KlaviyoClient(KEY, transport=handler.transport, clock=clock, sleep=clock.sleep,
                           rand=lambda: 0.999, retry=policy)
    async with client:
        with pytest.raises(ApiError):
            await client.get_profile("x")
    assert max(clock.slept) <= 4.0 and clock.slept[-1] > 3.9


@pytest.mark.parametrize("status", [400, 401, 403, 409, 415])
async def test_client_errors_are_not_retried(status: int) -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(klaviyo_error(status, "invalid", "no")))
    async with _klaviyo(handler, clock) as client:
        with pytest.raises(ApiError) as caught:
            await client.create_profile({"email": "a@b.co"})
    assert len(handler.requests) == 1 and caught.value.status == status


async def test_malformed_success_body_is_an_api_error() -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(_response(200, "<html>maintenance</html>", "text/html")))
    async with _klaviyo(handler, clock, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(ApiError) as caught:
            await client.get_profile("01J0000000000000000000000A")
    assert caught.value.code == "malformed_response" and "not JSON" in str(caught.value)


async def test_ipaas_shares_the_retry_loop() -> None:
    clock = VirtualClock()
    customer = httpx.Response(200, json={"id": 55260, "email_address": "a@b.co"})
    handler = Recorder(sequence(
        httpx.Response(503, text="<html><title>Service Unavailable</title></html>",
                       headers={"Content-Type": "text/html"}),
        httpx.Response(429, json={"code": "INTL-0429", "message": "slow down"},
                       headers={"Retry-After": "2"}),
        customer,
    ))
    client = IpaasClient(TOKEN, "123", transport=handler.transport, clock=clock,
                         sleep=clock.sleep, rand=lambda: 0.0)
    async with client:
        found = await client.get_customer("55260")
    assert found is not None and found.id == "55260"
    assert len(handler.requests) == 3 and sum(clock.slept) >= 2.0


async def test_a_cut_off_body_is_retried() -> None:
    clock = VirtualClock()
    cut = httpx.Response(200, content=OK_PROFILE.content[:40],
                         headers={"Content-Type": "application/vnd.api+json"})
    handler = Recorder(sequence(cut, OK_PROFILE))
    async with _klaviyo(handler, clock) as client:
        assert await client.get_profile(PID) is not None
    assert len(handler.requests) == 2


async def test_a_cut_off_link_is_retried_not_misread() -> None:
    clock = VirtualClock()
    handler = Recorder(sequence(httpx.Response(200, text='"01JAFS0V'),
                                httpx.Response(200, text='"01JAFS0VVWGJFE7QE4EJQBA5AS"')))
    client = IpaasClient(TOKEN, "123", transport=handler.transport, clock=clock,
                         sleep=clock.sleep)
    async with client:
        assert await client.lookup_link("55260") == "01JAFS0VVWGJFE7QE4EJQBA5AS"
