"""A bounded fuzz of the API with Hypothesis: whatever arrives, the answer is never a 500.

Bodies are drawn around the documented schema (right fields with wrong values, extra fields, any JSON,
raw bytes), with random content types, idempotency keys, paths and query strings.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
payment_bodies = st.fixed_dictionaries(
    {"order_id": st.text(max_size=60) | st.from_regex(r"[A-Za-z0-9._:-]{1,50}", fullmatch=True),
     "amount": st.integers(-10, 20_000_000) | st.text(max_size=12) | json_values},
    optional={"currency": st.sampled_from(["IDR", "USD", ""]) | json_values,
              "callback_url": st.sampled_from(["https://toko.example/cb", "ftp://x", "http://"]) | st.text(max_size=40),
              "metadata": json_values, "extra": json_values})
raw_bodies = (payment_bodies | json_values).map(lambda body: json.dumps(body).encode()) | st.binary(max_size=200)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""])
# CR, LF and NUL cannot travel in an HTTP header at all (the test client refuses them before sending).
idempotency_keys = st.none() | st.text(st.characters(exclude_characters="\r\n\x00"), max_size=300)
paths = st.sampled_from(["/payments", "/payments/{id}", "/payments/{id}/cancel", "/payments/x%00y",
                         "/payments/" + "9" * 80])
queries = st.dictionaries(st.sampled_from(["status", "limit", "cursor", "order_id"]), st.text(max_size=30), max_size=3)

FUZZ_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def assert_well_formed(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert set(response.json["error"]) == {"code", "message", "details"}


@FUZZ_SETTINGS
@given(body=raw_bodies, content_type=content_types, key=idempotency_keys)
def test_creating_never_fails_with_a_500(api, body, content_type, key):
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key.encode("utf-8", "ignore").decode("latin-1")
    assert_well_formed(api.post("/payments", data=body, headers=headers))


@FUZZ_SETTINGS
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), path=paths, query=queries, body=raw_bodies)
def test_other_requests_never_fail_with_a_500(api, client, method, path, query, body):
    payment_id = api.create("FUZZ-1", 1000).json.get("payment_id", "missing")
    response = client.open(path.replace("{id}", payment_id), method=method, query_string=query, data=body,
                           headers=api.headers({"Content-Type": "application/json"}))
    assert_well_formed(response)
