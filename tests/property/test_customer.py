"""Customer JSON from iPaaS.com: any record either reads cleanly or names the field to fix."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from core.model import Customer, CustomerDataError
from tests.property.strategies import BOUNDED, VALID, awkward_text, json_values, mutated


def _read(raw: Any) -> Customer | None:
    try:
        return Customer.from_api(raw)
    except CustomerDataError as error:
        message = str(error)
        assert message.startswith("customer"), message
        assert "Traceback" not in message
        return None


@BOUNDED
@given(json_values)
def test_any_json_reads_or_names_the_problem(raw: Any) -> None:
    _read(raw)


@BOUNDED
@given(mutated(VALID))
@example({**VALID, "external_ids": [{"system_id": float("inf"), "external_id": "x"}]})
@example({**VALID, "external_ids": [{"system_id": "1e400", "external_id": "x"}]})
def test_damaged_record_reads_or_names_the_field(raw: Any) -> None:
    customer = _read(raw)
    if customer is not None:
        assert customer.id and customer.id == customer.id.strip()


ids = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    awkward_text.filter(lambda s: s.strip() != ""),
)


@BOUNDED
@given(ids, st.dictionaries(st.sampled_from(sorted(VALID)[1:]), awkward_text, max_size=4))
@example("²", {})
@example("٣٤", {})
@example("007", {})
def test_read_customer_survives_its_own_json(ident: Any, fields: dict[str, Any]) -> None:
    raw = {**{k: v for k, v in fields.items() if k not in
              ("addresses", "custom_fields", "external_ids")}, "id": ident}
    customer = _read(raw)
    if customer is None:
        return
    served = customer.to_api()
    json.dumps(served)
    assert Customer.from_api(served) == customer
