"""Every request body the Klaviyo client sends validates against the official OpenAPI slices."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from core.clients.klaviyo import ConsentSubject, KlaviyoClient
from core.model import Channel
from tests.clients.fakes import KEY, FakeKlaviyo, Recorder, VirtualClock

# Klaviyo's published spec, revision 2026-07-15 (source and commit in the directory's README).
SPEC_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "klaviyo-openapi"
SLICES = ("profiles.json", "lists.json")


def _strict(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: `nullable` allows null, and documented objects are closed."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()
           if key not in ("example", "description", "nullable")}
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "oneOf" in out:
            out["oneOf"] = [*out["oneOf"], {"type": "null"}]
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
    # Klaviyo rejects attributes outside the schema (reference §11.11): close the objects.
    if isinstance(out.get("properties"), dict) and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@cache
def _document(name: str) -> dict[str, Any]:
    raw = json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))
    return {"components": _strict(raw["components"]), "paths": raw["paths"]}


@cache
def _operations() -> list[tuple[str, re.Pattern[str], str, dict[str, Any]]]:
    """(method, path pattern, slice, request schema) for every operation with a JSON body."""
    found = []
    for name in SLICES:
        for path, operations in _document(name)["paths"].items():
            for method, operation in operations.items():
                body = operation.get("requestBody") if isinstance(operation, dict) else None
                if not body:
                    continue
                schema = body["content"]["application/vnd.api+json"]["schema"]
                pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "/?$")
                found.append((method.upper(), pattern, name, _strict(schema)))
    return found


def validate_request(request: httpx.Request) -> str:
    """Validate one request's body; returns the operation path it matched."""
    for method, pattern, name, schema in _operations():
        if method == request.method and pattern.match(request.url.path):
            document = {**schema, "components": _document(name)["components"]}
            jsonschema.validate(json.loads(request.content), document,
                                cls=jsonschema.Draft7Validator)
            return f"{method} {pattern.pattern}"
    raise AssertionError(f"no OpenAPI operation for {request.method} {request.url.path}")


async def _exercise(client: KlaviyoClient) -> None:
    """Every write the client can make, with every optional part filled in."""
    full = {"email": "ann@example.com", "phone_number": "+15005550006", "external_id": "55260",
            "first_name": "Ann", "last_name": "Lee", "organization": "Acme",
            "location": {"address1": "1 Main St", "address2": "Apt 2", "city": "Oslo",
                         "region": "Oslo", "zip": "0150", "country": "Norway"},
            "properties": {"Tier": "gold", "Tags": ["a", "b"], "$source": "API"}}
    made = await client.create_profile(full)
    await client.patch_profile(made.id, {"first_name": "Anne", "organization": None,
                                         "location": {"city": "Bergen"}, "properties": {}})
    await client.patch_profile(made.id, {})
    subjects = [ConsentSubject("ann@example.com", "+15005550006", made.id),
                ConsentSubject(None, "+15005550007"), ConsentSubject("bo@example.com", None)]
    both = {Channel.EMAIL, Channel.SMS}
    await client.subscribe(subjects, channels=both, list_id="XUepkK", custom_source="console")
    await client.subscribe(subjects[2:], channels={Channel.EMAIL})
    await client.unsubscribe(subjects, channels=both, list_id="XUepkK")
    await client.unsubscribe(subjects[:1], channels={Channel.SMS})
    await client.add_to_list("Y6nRLr", [made.id, "01J0000000000000000000000Z"])
    await client.remove_from_list("Y6nRLr", [made.id])
    await client.bulk_import([full, {"email": "c@example.com"},
                              {"id": made.id, "attributes": {"first_name": "X"}}],
                             list_id="Y6nRLr")
    await client.bulk_import([{"phone_number": "+15005550008"}])


async def test_every_body_validates_against_the_official_schema() -> None:
    recorder = Recorder(FakeKlaviyo())
    clock = VirtualClock()
    async with KlaviyoClient(KEY, transport=recorder.transport, clock=clock,
                             sleep=clock.sleep) as client:
        await _exercise(client)
    with_body = [r for r in recorder.requests if r.content]
    matched = {validate_request(r) for r in with_body}
    assert len(with_body) == 11
    assert len(matched) == 7  # create, patch, subscribe, unsubscribe, add, remove, import


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/profile-subscription-bulk-create-jobs",
         {"data": {"type": "profile-subscription-bulk-create-job", "attributes": {"profiles": {
             "data": [{"type": "profile", "attributes": {
                 "email": "a@b.co", "first_name": "Ann",
                 "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}}}]}}}}),
        ("/api/profile-subscription-bulk-delete-jobs",
         {"data": {"type": "profile-subscription-bulk-delete-job", "attributes": {"profiles": {
             "data": [{"type": "profile", "attributes": {
                 "email": "a@b.co",
                 "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}}}]}}}}),
        ("/api/profiles", {"data": {"type": "profile", "id": "01J0", "attributes": {}}}),
        ("/api/profiles", {"data": {"type": "profile", "attributes": {"emial": "a@b.co"}}}),
    ],
)
def test_the_check_catches_bodies_klaviyo_would_refuse(path: str, body: Any) -> None:
    request = httpx.Request("POST", f"https://a.klaviyo.com{path}", json=body)
    with pytest.raises(jsonschema.ValidationError):
        validate_request(request)
