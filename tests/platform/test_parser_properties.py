"""Hypothesis on every parser that takes outside input: it answers or refuses with its own error, never crashes.

Rupiah typed at the till, product CSV uploads, settlement CSVs, webhook bodies of each gateway (correctly
signed, so the parser behind the signature check is reached) and the API's JSON validation.
"""
import hashlib
import json
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kasir.api.errors import ApiError
from kasir.api.validation import parse_json, payment_request
from kasir.money import MoneyError, format_rupiah, parse_rupiah
from kasir.payments import states
from kasir.payments.providers.base import MalformedWebhook, WebhookEvent, WebhookIgnored, WebhookRejected
from kasir.payments.providers.generic import parse_body
from kasir.payments.providers.midtrans import MidtransProvider
from kasir.payments.providers.xendit import XenditProvider
from kasir.reports.reconcile import COLUMNS, SettlementFileError, parse_csv
from support.gateways import MIDTRANS_KEY, XENDIT_TOKEN

pytestmark = pytest.mark.fuzz
PROPERTIES = settings(max_examples=300, deadline=None, derandomize=True)
MAX_RUPIAH = 999_999_999_999

json_scalars = (st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats(allow_nan=False)
                | st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=12), children, max_size=4), max_leaves=10)
# Raw JSON text with the constants Python's json module accepts by default but JSON itself does not.
odd_numbers = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "27500.0", "27500.5", "1E3"])


def any_of(*fields: str):
    """JSON objects built around the named fields: right names, any values, sometimes odd number literals."""
    return st.fixed_dictionaries({}, optional={field: json_values | odd_numbers.map(RawNumber) for field in fields})


class RawNumber(str):
    """A number literal to splice into the JSON text as it is (json.dumps would quote it)."""


def dumps(body) -> bytes:
    literals = {}

    def placeholder(value):
        if isinstance(value, RawNumber):
            key = f"@@{len(literals)}@@"
            literals[f'"{key}"'] = str(value)
            return key
        if isinstance(value, dict):
            return {k: placeholder(v) for k, v in value.items()}
        return value

    text = json.dumps(placeholder(body))
    for key, literal in literals.items():
        text = text.replace(key, literal)
    return text.encode()


# -- rupiah ---------------------------------------------------------------------------------------
rupiah_like = st.text(alphabet="0123456789.,- Rrpa", max_size=20) | st.text(max_size=20)


@PROPERTIES
@given(rupiah_like)
def test_typed_rupiah_is_a_whole_amount_or_a_clear_refusal(text):
    try:
        value = parse_rupiah(text)
    except MoneyError as exc:
        assert str(exc)
    else:
        assert isinstance(value, int) and 0 <= value <= MAX_RUPIAH


@PROPERTIES
@given(st.integers(0, MAX_RUPIAH))
def test_every_amount_reads_back_from_how_it_is_shown(amount):
    assert parse_rupiah(format_rupiah(amount)) == amount
    assert parse_rupiah(str(amount)) == amount


# -- settlement CSV -------------------------------------------------------------------------------
headers = st.lists(st.sampled_from([alias for aliases in COLUMNS.values() for alias in aliases] + ["note", ""]),
                   min_size=1, max_size=6)
cells = st.sampled_from(["", "27500", "27500.00", "1,500", "-5", "2026-11-23", "2026-13-45 10:00", "x", "settlement",
                         "\"quoted, cell\"", "12.5"]) | st.text(alphabet=string.printable, max_size=12)


@st.composite
def settlement_files(draw):
    names = draw(headers)
    rows = draw(st.lists(st.lists(cells, max_size=len(names) + 1), max_size=5))
    return "\n".join([",".join(names)] + [",".join(row) for row in rows])


@PROPERTIES
@given(settlement_files() | st.text(max_size=200))
@example("amount,order_id\n1\r2,POS-1")  # a bare CR inside a cell once escaped as csv.Error
def test_a_settlement_file_gives_whole_rupiah_rows_or_names_its_bad_line(text):
    try:
        rows = parse_csv(text)
    except SettlementFileError as exc:
        assert str(exc)
    else:
        for row in rows:
            assert all(isinstance(value, int) and value >= 0 for value in (row.amount, row.fee))
            assert isinstance(row.net_amount, int)


# -- webhook bodies -------------------------------------------------------------------------------
def assert_event(event: WebhookEvent):
    assert event.status in states.ALL_STATES
    assert event.amount is None or (isinstance(event.amount, int) and event.amount > 0)
    for text in (event.event_id, event.reference, event.provider_trx_id, event.ref_no):
        assert text is None or isinstance(text, str)


@PROPERTIES
@given(any_of("trx_id", "order_id", "amount", "status", "ref_no") | json_values)
@example({"status": ["SUCCESS"], "amount": 1, "order_id": "A"})  # once a TypeError: a list is unhashable
def test_generic_webhook_body_is_an_event_or_malformed(body):
    try:
        event = parse_body("evt-1", dumps(body))
    except MalformedWebhook:
        return
    assert_event(event)


@PROPERTIES
@given(st.binary(max_size=100))
def test_generic_webhook_bytes_are_an_event_or_malformed(raw):
    try:
        assert_event(parse_body("evt-1", raw))
    except MalformedWebhook:
        pass


def midtrans_signed(body) -> bytes:
    if isinstance(body, dict) and all(isinstance(body.get(k), str)
                                      for k in ("order_id", "status_code", "gross_amount")):
        body = {**body, "signature_key": hashlib.sha512(
            f"{body['order_id']}{body['status_code']}{body['gross_amount']}{MIDTRANS_KEY}".encode()).hexdigest()}
    return dumps(body)


midtrans_bodies = st.fixed_dictionaries(
    {"order_id": st.text(min_size=1, max_size=20), "status_code": st.sampled_from(["200", "201", "202", "407", "x"]),
     "gross_amount": st.sampled_from(["7500.00", "7500.50", "abc", "1e3", ""])},
    optional={"transaction_status": st.sampled_from(["settlement", "pending", "capture", "deny", "odd"]) | json_values,
              "transaction_id": json_values, "fraud_status": json_values, "settlement_time": json_values})


@PROPERTIES
@given(midtrans_bodies | any_of("order_id", "status_code", "gross_amount", "transaction_status") | json_values)
@example({"order_id": "A", "status_code": "200", "gross_amount": "1.00", "transaction_status": []})  # TypeError once
@example({"order_id": "A", "status_code": "200", "gross_amount": "1.00", "transaction_status": "settlement",
          "settlement_time": True})  # strptime(True) once
def test_midtrans_notification_is_an_event_or_refused(body):
    provider = MidtransProvider(MIDTRANS_KEY, "http://127.0.0.1:9")
    try:
        event = provider.parse_webhook({}, midtrans_signed(body))
    except (WebhookRejected, MalformedWebhook):
        return
    assert_event(event)


xendit_data = st.fixed_dictionaries(
    {"status": st.sampled_from(["SUCCEEDED", "FAILED"]) | json_values},
    optional={"id": st.text(max_size=120) | json_values, "amount": json_values | odd_numbers.map(RawNumber),
              "reference_id": json_values, "qr_id": json_values,
              "payment_detail": json_values | st.fixed_dictionaries({"receipt_id": json_values})})
xendit_bodies = st.fixed_dictionaries({"event": st.sampled_from(["qr.payment", "qr.other"]) | json_values,
                                       "data": xendit_data | json_values})
# A genuine payment callback with one field gone wrong: the shape that reaches the amount and receipt parsing.
xendit_payments = st.fixed_dictionaries({"event": st.just("qr.payment"), "data": st.fixed_dictionaries(
    {"status": st.just("SUCCEEDED"), "id": st.just("qrpy_1"),
     "amount": st.integers(1, 10**7) | json_values | odd_numbers.map(RawNumber)},
    optional={"reference_id": json_values, "qr_id": json_values,
              "payment_detail": json_values | st.fixed_dictionaries({"receipt_id": json_values})})})


@PROPERTIES
@given(xendit_payments | xendit_bodies | json_values)
@example({"event": "qr.payment", "data": {"status": "SUCCEEDED", "id": "qrpy_1", "amount": RawNumber("Infinity")}})
@example({"event": "qr.payment", "data": {"status": "SUCCEEDED", "id": "qrpy_1", "amount": RawNumber("1e400")}})
@example({"event": "qr.payment", "data": {"status": "SUCCEEDED", "id": "qrpy_1", "amount": 1, "payment_detail": 0}})
@example({"event": "qr.payment", "data": {"status": "SUCCEEDED", "id": "qrpy_1", "amount": 1, "reference_id": [1]}})
def test_xendit_callback_is_an_event_ignored_or_malformed(body):
    provider = XenditProvider("xnd_development_key", XENDIT_TOKEN, "http://127.0.0.1:9")
    try:
        event = provider.parse_webhook({"x-callback-token": XENDIT_TOKEN}, dumps(body))
    except (WebhookIgnored, MalformedWebhook):
        return
    assert_event(event)


# -- API bodies -----------------------------------------------------------------------------------
@PROPERTIES
@given(any_of("order_id", "amount", "currency", "callback_url", "metadata", "extra") | json_values)
def test_payment_request_is_valid_or_a_422_naming_the_fields(body):
    try:
        wanted = payment_request(parse_json(dumps(body)), 10_000_000)
    except ApiError as exc:
        assert exc.status in (400, 422) and exc.body()["error"]["code"] in ("malformed_json", "validation_error")
        return
    assert isinstance(wanted.amount, int) and 1 <= wanted.amount <= 10_000_000


# -- product CSV import ---------------------------------------------------------------------------
product_headers = st.lists(st.sampled_from(["sku", "barcode", "name", "category", "price", "stock", "active", "x"]),
                           min_size=1, max_size=8, unique=True)
product_cells = st.sampled_from(["", "SKU9001", "SKU0001", "Teh Botol", "Rp 15.000", "15.000", "-1", "1,5", "abc",
                                 "899123", "ya", "tidak", "0", "999999999999999"]) | st.text(max_size=10)


@st.composite
def product_files(draw):
    names = draw(product_headers)
    delimiter = draw(st.sampled_from([",", ";"]))
    rows = draw(st.lists(st.lists(product_cells, min_size=len(names), max_size=len(names)), max_size=4))
    text = "\n".join([delimiter.join(names)] + [delimiter.join(row) for row in rows])
    return draw(st.sampled_from(["", "\ufeff"])) + text


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=product_files().map(str.encode) | st.binary(max_size=120))
def test_product_csv_imports_whole_or_lists_its_errors_and_changes_nothing(app, raw):
    from kasir.extensions import db
    from kasir.models import Product
    from kasir.products import import_csv

    with app.app_context():
        before = db.session.scalar(db.select(db.func.count()).select_from(Product))
        result = import_csv(raw, max_rows=50)
        if result.errors:
            assert all(isinstance(line, int) and message for line, message in result.errors)
            assert not db.session.new and not db.session.dirty  # nothing half-imported
        else:
            db.session.flush()
            count = db.session.scalar(db.select(db.func.count()).select_from(Product))
            assert count == before + result.created and result.created + result.updated > 0
        db.session.rollback()
