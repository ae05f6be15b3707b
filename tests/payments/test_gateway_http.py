"""The gateways' HTTP client (kasir.payments.providers.http): a status query is tried again, a charge never."""
from kasir.payments.providers.http import GatewayClient


def client_of(httpserver) -> GatewayClient:
    return GatewayClient("Midtrans", httpserver.url_for("/"), "SB-Mid-server-test", timeouts=(2, 5))


def test_a_status_query_is_tried_again_after_a_503(httpserver):
    httpserver.expect_ordered_request("/v2/ORDER-1/status", method="GET").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/v2/ORDER-1/status", method="GET").respond_with_json({"status_code": "201"})
    response = client_of(httpserver).request("GET", "/v2/ORDER-1/status")
    assert (response.http_status, response.body) == (200, {"status_code": "201"})
    assert len(httpserver.log) == 2


def test_a_charge_is_never_sent_twice(httpserver):
    httpserver.expect_request("/v2/charge", method="POST").respond_with_data("busy", status=503)
    response = client_of(httpserver).request("POST", "/v2/charge", json={"transaction_details": {}})
    assert response.http_status == 503
    assert len(httpserver.log) == 1
