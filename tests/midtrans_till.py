"""Fixtures for tests of a till whose QRIS goes through Midtrans (the loopback fake): import both into the module."""
import pytest

from conftest import use_gateway
from fake_gateways import MIDTRANS_KEY


@pytest.fixture
def app_config(app_config, fake_midtrans):
    return {**app_config, "MIDTRANS_BASE_URL": fake_midtrans.url, "GATEWAY_READ_TIMEOUT": 0.5}


@pytest.fixture(autouse=True)
def midtrans_active(app):
    use_gateway(app, provider="midtrans", midtrans_env="sandbox", midtrans_server_key=MIDTRANS_KEY)
    with app.app_context():
        yield
