"""The query text ApiSession writes reads back, through httpx, as the params it was given."""

from __future__ import annotations

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

from core.clients.http import query_string
from core.clients.klaviyo_endpoints import filter_string

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.dictionaries(TEXT.filter(bool), TEXT, max_size=4))
@example({"filter": "any(email,['a+b@x.co','c&d=e#f%5B@y.co'])", "page[size]": "100"})
@example({"a b": "1+1=2; 100% [sure]", "é": "ü/?\\"})
def test_every_text_reads_back_as_given(params: dict[str, str]) -> None:
    url = httpx.URL("https://a.klaviyo.com/api/profiles?" + query_string(params))
    assert dict(url.params) == params


def test_a_filter_travels_with_only_its_reserved_characters_escaped() -> None:
    listed = ",".join(filter_string(v) for v in ("ann.lee@example.com", "+15005550006"))
    query = query_string({"filter": f"any(email,[{listed}])", "page[size]": "100"})
    assert query == ("filter=any(email,%5B'ann.lee@example.com','%2B15005550006'%5D)"
                     "&page%5Bsize%5D=100")
    # httpx leaves such a query as it is.
    url = httpx.URL("https://a.klaviyo.com/api/profiles?" + query)
    assert url.query.decode() == query
