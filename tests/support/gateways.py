"""Loopback fakes of Midtrans Core API and Xendit QR Codes API (shared/contracts/), served over real HTTP.

They check what the real gateways check (Basic auth, api-version, body fields and their JSON types) and
answer with the documented shapes. Knobs make a call fail, hang or go slow; `requests` records every call.
`fail_next` queues faults for the next few calls; `go_down`/`recover` switch an outage on and off at run time.
"""
import base64
import errno
import hashlib
import json
import os
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from kasir import qris

WIB = timezone(timedelta(hours=7))
STATIC_VECTOR = ("00020101021126700021ID.CO.EXAMPLEBANK.WWW011893600099000000001702120000000000170303UMI51440014"
                 "ID.CO.QRIS.WWW0215ID10200000000170303UMI5204549953033605802ID5911TOKO CONTOH6005DEPOK6105"
                 "16424630451D4")
MIDTRANS_KEY = "SB-Mid-server-Fak3K3yF0rT3st1ngOnly9x"
XENDIT_KEY = "xnd_development_F4keSecretKeyForTestsOnly0123456789"
XENDIT_TOKEN = "cbtok-Fake-Callback-Token-For-Tests-77"


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(f"{secret}:".encode()).decode()


def wib_text(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")


def reset(connection: socket.socket):
    """Drop the caller's connection with a TCP RST (linger 0), as a crashing load balancer does."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os.close(connection.detach())  # the descriptor itself: werkzeug's file objects still hold the socket
    raise ConnectionResetError("fake gateway reset the connection")  # werkzeug drops it silently


class FakeGateway:
    """A threaded WSGI server on 127.0.0.1; subclasses implement `route(request) -> Response`."""

    def __init__(self):
        self.requests: list[dict] = []
        # endpoint name -> faults for its next calls: "timeout" (hang, then handle), "lost" (handle, then hang),
        # "slow", "500"/"502"/"503" (an HTML error page), "body:402" (HTTP 200, error in the body)
        self.faults: dict[str, list[str]] = {}
        self.hang_seconds = 2.0
        self.slow_seconds = 0.3
        # An outage that lasts until recover(): endpoint (or None for all) -> mode, see go_down.
        self.outage: dict[str | None, str] = {}
        self.lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._server.handle_error = self._handle_error
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def _handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError) or sys.exc_info()[1].errno != errno.EBADF:
            socketserver.BaseServer.handle_error(self._server, request, client_address)
        # EBADF: the keep-alive loop reading from a connection that reset() closed on purpose

    def fail_next(self, endpoint: str, *faults: str) -> None:
        self.faults.setdefault(endpoint, []).extend(faults)

    def go_down(self, mode: str, *endpoints: str, seconds: float | None = None) -> None:
        """Every call (or every call to `endpoints`) fails the same way until recover().

        "slow": done and answered only after `seconds` (longer than the caller waits); "hang": no answer for
        `seconds`, then the connection closes and nothing was done; "reset": the connection is reset as soon as
        the request arrives; "500"/"502"/"503": the gateway's HTML error page.
        """
        if mode not in ("slow", "hang", "reset", "500", "502", "503"):
            raise ValueError(mode)
        if seconds is not None:
            self.hang_seconds = self.slow_seconds = seconds
        with self.lock:
            self.outage = {endpoint: mode for endpoint in endpoints or (None,)}

    def recover(self) -> None:
        with self.lock:
            self.outage = {}

    def calls(self, endpoint: str) -> list[dict]:
        return [call for call in self.requests if call["endpoint"] == endpoint]

    def _fault(self, endpoint: str, environ) -> Response | None:
        with self.lock:
            queue = self.faults.get(endpoint) or []
            fault = queue.pop(0) if queue else self.outage.get(endpoint, self.outage.get(None))
        if fault in ("hang", "reset"):
            if fault == "hang":
                time.sleep(self.hang_seconds)
            reset(environ["werkzeug.socket"])
        if fault == "timeout":
            time.sleep(self.hang_seconds)
        elif fault == "slow":
            time.sleep(self.slow_seconds)
        elif fault in ("500", "502", "503"):
            return Response("<html><body>Bad Gateway</body></html>", status=int(fault), content_type="text/html")
        elif fault and fault.startswith("body:"):  # HTTP 200 whose body says it failed
            code = fault.split(":")[1]
            return self.json({"status_code": code, "status_message": "One or more merchant settings is invalid."})
        elif fault == "lost":
            return "lost"
        return None

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        endpoint = self.endpoint(request.method, request.path)
        body = request.get_data(as_text=True)
        self.requests.append({"endpoint": endpoint, "method": request.method, "path": request.path,
                              "target": environ.get("REQUEST_URI"),  # as sent, before any percent-decoding
                              "headers": dict(request.headers), "body": body})
        response = self._fault(endpoint, environ)
        if response is None or response == "lost":
            lost = response == "lost"
            response = self.route(request, endpoint)
            if lost:  # done at the gateway, but the answer comes too late for the caller
                time.sleep(self.hang_seconds)
        return response(environ, start_response)

    @staticmethod
    def json(body: dict, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")


class FakeMidtrans(FakeGateway):
    """Core API v2 (QRIS, bank_transfer VA, echannel for Mandiri) and Snap payment links, as
    shared/contracts/midtrans.md describes them. A Snap order is unknown to the Core API until `pick`."""

    VA_BANKS = ("bca", "bni", "bri", "cimb", "permata")

    def __init__(self, server_key: str = MIDTRANS_KEY):
        super().__init__()
        self.server_key = server_key
        self.transactions: dict[str, dict] = {}
        self.snap_orders: dict[str, dict] = {}
        self.idempotency_keys: list[str] = []

    @staticmethod
    def endpoint(method: str, path: str) -> str:
        if path == "/v2/charge":
            return "charge"
        if path == "/snap/v1/transactions":
            return "snap"
        match = re.fullmatch(r"/v2/[^/]+/(status|cancel|expire|refund/online/direct|refund)", path)
        return match.group(1).split("/")[0] if match else "unknown"

    def _error(self, code: str, message: str, http: int | None = None, **extra) -> Response:
        return self.json({"status_code": code, "status_message": message, "id": str(uuid.uuid4()), **extra},
                         http or int(code))

    def _body(self, transaction: dict, status_code: str, message: str) -> dict:
        body = {"status_code": status_code, "status_message": message, **{
            key: transaction[key] for key in ("transaction_id", "order_id", "gross_amount", "currency", "payment_type",
                                              "transaction_time", "transaction_status", "fraud_status", "merchant_id",
                                              "acquirer", "expiry_time") if key in transaction}}
        if transaction.get("settlement_time"):
            body["settlement_time"] = transaction["settlement_time"]
        if transaction["transaction_status"] == "pending" and "qr_string" in transaction:
            body["qr_string"] = transaction["qr_string"]
        if transaction.get("refund_amount"):
            body["refund_amount"] = transaction["refund_amount"]
        return body

    def route(self, request: Request, endpoint: str) -> Response:
        if request.headers.get("Authorization") != basic(self.server_key):
            return self._error("401",
                               "Access denied due to unauthorized transaction, please check client or server key")
        if request.headers.get("Accept") != "application/json":
            return self._error("400", "Accept header must be application/json")
        if request.method == "POST":
            if request.headers.get("Content-Type") != "application/json":
                return self._error("400", "Content-Type must be application/json")
            if key := request.headers.get("Idempotency-Key"):
                self.idempotency_keys.append(key)
        if endpoint == "snap":
            return self._snap(request)
        order_id = request.path.split("/")[2]
        if endpoint == "charge":
            return self._charge(request)
        transaction = self.transactions.get(order_id) or next(
            (t for t in self.transactions.values() if t["transaction_id"] == order_id), None)
        if transaction is None:
            return self._error("404", "Transaction doesn't exist.")
        if endpoint == "status" and request.method == "GET":
            code = {"settlement": "200", "pending": "201"}.get(transaction["transaction_status"], "202")
            return self.json(self._body(transaction, code, "Success, transaction is found"))
        if endpoint == "cancel":
            if transaction["transaction_status"] != "pending":
                return self._error("412", "Transaction status cannot be updated.")
            transaction["transaction_status"] = "cancel"
            return self.json(self._body(transaction, "200", "Success, transaction is canceled"))
        if endpoint == "expire":
            if transaction["transaction_status"] != "pending":
                return self._error("412", "Transaction status cannot be updated.")
            transaction["transaction_status"] = "expire"
            return self.json(self._body(transaction, "407", "Success, transaction has expired"))
        if endpoint == "refund":
            return self._refund(request, transaction)
        return self._error("404", "Not found")

    def _charge(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        problems = self._validate_charge(body)
        if problems:
            return self._error("400", "One or more parameters in the payload is invalid.",
                               validation_messages=problems)
        details = body["transaction_details"]
        if details["order_id"] in self.transactions:
            return self._error("406", "The request could not be completed due to a conflict with the current "
                                      "state of the target resource, please try again")
        now = datetime.now(timezone.utc)
        minutes = body.get("custom_expiry", {}).get("expiry_duration", 15)
        transaction = {
            "transaction_id": str(uuid.uuid4()), "order_id": details["order_id"],
            "gross_amount": f"{details['gross_amount']}.00", "currency": "IDR", "payment_type": body["payment_type"],
            "transaction_time": wib_text(now), "transaction_status": "pending", "fraud_status": "accept",
            "merchant_id": "G123456789", "expiry_time": wib_text(now + timedelta(minutes=minutes)),
        }
        self.transactions[details["order_id"]] = transaction
        if body["payment_type"] == "bank_transfer":
            bank = body["bank_transfer"]["bank"]
            number = f"{uuid.uuid4().int % 10**11:011d}"
            response = self._body(transaction, "201", "Success, Bank Transfer transaction is created")
            if bank == "permata":
                response["permata_va_number"] = number[:10] + "8"
            else:
                response["va_numbers"] = [{"bank": bank, "va_number": "8808" + number}]
            return self.json(response)
        if body["payment_type"] == "echannel":
            response = self._body(transaction, "201", "OK, Mandiri Bill transaction is successful")
            response.update(bill_key=f"{uuid.uuid4().int % 10**12:012d}", biller_code="70012")
            return self.json(response)
        transaction["acquirer"] = body.get("qris", {}).get("acquirer", "gopay")
        transaction["qr_string"] = qris.to_dynamic(STATIC_VECTOR, details["gross_amount"])
        response = self._body(transaction, "201", "QRIS transaction is created")
        response["actions"] = [{"name": "generate-qr-code", "method": "GET",
                                "url": f"{self.url}/v2/qris/{transaction['transaction_id']}/qr-code"}]
        return self.json(response)

    def _snap(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        details = body.get("transaction_details") if isinstance(body, dict) else None
        if (not isinstance(details, dict) or not isinstance(details.get("order_id"), str)
                or not isinstance(details.get("gross_amount"), int) or details["gross_amount"] < 1):
            return self.json({"error_messages": ["transaction_details.gross_amount is required"]}, 400)
        if details["order_id"] in self.snap_orders or details["order_id"] in self.transactions:
            return self.json({"error_messages": ["transaction_details.order_id sudah digunakan"]}, 400)
        token = str(uuid.uuid4())
        self.snap_orders[details["order_id"]] = {"token": token, "body": body}
        return self.json({"token": token, "redirect_url": f"{self.url}/snap/v4/redirection/{token}"}, 201)

    def pick(self, order_id: str, bank: str = "bca") -> dict:
        """The customer picks a VA on the Snap page: from now on the Core API knows the order."""
        details = self.snap_orders[order_id]["body"]["transaction_details"]
        now = datetime.now(timezone.utc)
        transaction = {
            "transaction_id": str(uuid.uuid4()), "order_id": order_id, "gross_amount": f"{details['gross_amount']}.00",
            "currency": "IDR", "payment_type": "bank_transfer", "transaction_time": wib_text(now),
            "transaction_status": "pending", "fraud_status": "accept", "merchant_id": "G123456789",
        }
        self.transactions[order_id] = transaction
        return transaction

    @staticmethod
    def _validate_charge(body) -> list[str]:
        if not isinstance(body, dict):
            return ["body must be a JSON object"]
        problems = []
        payment_type = body.get("payment_type")
        if payment_type not in ("qris", "bank_transfer", "echannel"):
            problems.append("payment_type must be qris, bank_transfer or echannel")
        bank = (body.get("bank_transfer") or {}).get("bank")
        if payment_type == "bank_transfer" and bank not in FakeMidtrans.VA_BANKS:
            problems.append("bank_transfer.bank is invalid")
        if payment_type == "echannel" and not all((body.get("echannel") or {}).get(key)
                                                  for key in ("bill_info1", "bill_info2")):
            problems.append("echannel.bill_info1 and bill_info2 are required")
        details = body.get("transaction_details")
        if not isinstance(details, dict):
            return problems + ["transaction_details is required"]
        order_id, amount = details.get("order_id"), details.get("gross_amount")
        if not isinstance(order_id, str) or not 1 <= len(order_id) <= 50:
            problems.append("transaction_details.order_id must be a string of at most 50 characters")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            problems.append("transaction_details.gross_amount must be a positive integer")
        expiry = body.get("custom_expiry")
        if expiry is not None and (not isinstance(expiry.get("expiry_duration"), int)
                                   or expiry.get("unit") not in ("second", "minute", "hour", "day")):
            problems.append("custom_expiry is invalid")
        items = body.get("item_details")
        if items is not None and sum(item["price"] * item["quantity"] for item in items) != amount:
            problems.append("item_details must add up to gross_amount")
        return problems

    def _refund(self, request: Request, transaction: dict) -> Response:
        body = request.get_json(silent=True) or {}
        amount = body.get("amount")
        if not isinstance(body.get("refund_key"), str) or isinstance(amount, bool) or not isinstance(amount, int):
            return self._error("400", "refund_key and an integer amount are required")
        if transaction["transaction_status"] not in ("settlement", "partial_refund"):
            return self._error("412", "Transaction status cannot be updated.")
        gross = int(float(transaction["gross_amount"]))
        refunded = int(float(transaction.get("refund_amount") or 0)) + amount  # Midtrans adds partial refunds up
        if refunded > gross:
            return self._error("412", "Refund amount exceeds the transaction amount.")
        transaction["transaction_status"] = "refund" if refunded == gross else "partial_refund"
        transaction["refund_amount"] = f"{refunded}.00"
        response = self._body(transaction, "200", "Success, refund request is approved")
        response.update({"refund_key": body["refund_key"], "refund_chargeback_id": 1})
        return self.json(response)

    # What the payer's app and the gateway's back office do:
    def settle(self, order_id: str) -> None:
        transaction = self.transactions[order_id]
        transaction["transaction_status"] = "settlement"
        transaction["settlement_time"] = wib_text(datetime.now(timezone.utc))

    def notification(self, order_id: str, *, server_key: str | None = None) -> dict:
        transaction = self.transactions[order_id]
        status_code = {"settlement": "200", "pending": "201"}.get(transaction["transaction_status"], "202")
        body = {key: transaction[key] for key in ("transaction_time", "transaction_status", "transaction_id",
                                                   "order_id", "gross_amount", "currency", "payment_type",
                                                   "fraud_status", "merchant_id", "acquirer") if key in transaction}
        body.update({"status_code": status_code, "status_message": "midtrans payment notification",
                     "settlement_time": transaction.get("settlement_time", "")})
        body["signature_key"] = hashlib.sha512(
            f"{order_id}{status_code}{body['gross_amount']}{server_key or self.server_key}".encode()).hexdigest()
        return body


class FakeXendit(FakeGateway):
    """QR Codes API with api-version 2022-07-31, as shared/contracts/xendit.md describes it."""

    def __init__(self, secret_key: str = XENDIT_KEY):
        super().__init__()
        self.secret_key = secret_key
        self.codes: dict[str, dict] = {}
        self.payments: dict[str, list[dict]] = {}
        self.refunds: list[dict] = []

    @staticmethod
    def endpoint(method: str, path: str) -> str:
        if path == "/qr_codes":
            return "create"
        if re.fullmatch(r"/qr_codes/payments/[^/]+/refunds", path):
            return "refund"
        if path.endswith("/payments"):
            return "payments"
        return "get" if path.startswith("/qr_codes/") else "unknown"

    def _error(self, status: int, code: str, message: str) -> Response:
        return self.json({"error_code": code, "message": message}, status)

    def route(self, request: Request, endpoint: str) -> Response:
        if request.headers.get("Authorization") != basic(self.secret_key):
            return self._error(401, "INVALID_API_KEY", "API key is not authorized for this API service")
        if request.headers.get("api-version") != "2022-07-31":
            return self._error(400, "API_VALIDATION_ERROR", "this fake only speaks api-version 2022-07-31")
        if endpoint == "create":
            return self._create(request)
        parts = request.path.split("/")
        if endpoint == "refund":
            return self._refund(request, parts[3])
        code = self.codes.get(parts[2])
        if code is None:
            return self._error(404, "DATA_NOT_FOUND", "QR code not found")
        if endpoint == "payments":
            return self.json({"data": self.payments.get(code["id"], []), "has_more": False})
        return self.json(code)

    def _create(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if request.headers.get("Content-Type") != "application/json" or not isinstance(body, dict):
            return self._error(400, "API_VALIDATION_ERROR", "body must be JSON")
        amount = body.get("amount")
        valid = (isinstance(body.get("reference_id"), str) and body.get("type") == "DYNAMIC"
                 and body.get("currency") == "IDR" and isinstance(amount, (int, float)) and not isinstance(amount, bool)
                 and amount >= 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
                                                  body.get("expires_at", "")))
        if not valid:
            return self._error(400, "API_VALIDATION_ERROR",
                               "reference_id, type, currency, amount or expires_at invalid")
        magic = {10100: (403, "CHANNEL_NOT_ACTIVATED"), 10101: (503, "CHANNEL_UNAVAILABLE"),
                 10102: (500, "SERVER_ERROR")}
        if amount in magic:
            return self._error(*magic[amount], "test scenario")
        if any(code["reference_id"] == body["reference_id"] for code in self.codes.values()):
            return self._error(409, "DUPLICATE_ERROR", "reference_id already used")
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        code = {"id": f"qr_{uuid.uuid4()}", "reference_id": body["reference_id"],
                "business_id": "5f27a14a9bf05c73dd040bc8",
                "type": "DYNAMIC", "currency": "IDR", "amount": amount, "channel_code": "ID_DANA", "status": "ACTIVE",
                "qr_string": qris.to_dynamic(STATIC_VECTOR, int(amount)), "expires_at": body["expires_at"],
                "created": now, "updated": now, "metadata": body.get("metadata")}
        self.codes[code["id"]] = code
        return self.json(code, 201)

    def _refund(self, request: Request, payment_id: str) -> Response:
        body = request.get_json(silent=True) or {}
        paid = next((p for items in self.payments.values() for p in items if p["id"] == payment_id), None)
        if paid is None:
            return self._error(404, "DATA_NOT_FOUND", "payment not found")
        if isinstance(body.get("amount"), bool) or not isinstance(body.get("amount"), (int, float)):
            return self._error(400, "API_VALIDATION_ERROR", "amount must be a number")
        refund = {"id": f"rfd_{uuid.uuid4()}", "qr_payment_id": payment_id, "amount": body["amount"],
                  "status": "PENDING", "reason": body.get("reason")}
        self.refunds.append(refund)
        return self.json(refund)

    def pay(self, reference_id: str, amount: int | None = None) -> dict:
        """The payer scans and pays: the payment exists, the QR goes inactive; returns the callback body."""
        code = next(c for c in self.codes.values() if c["reference_id"] == reference_id)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        payment = {"id": f"qrpy_{uuid.uuid4()}", "business_id": code["business_id"], "currency": "IDR",
                   "amount": amount if amount is not None else code["amount"], "status": "SUCCEEDED", "created": now,
                   "qr_id": code["id"], "qr_string": code["qr_string"], "reference_id": reference_id,
                   "type": "DYNAMIC", "channel_code": "ID_DANA", "expires_at": code["expires_at"],
                   "metadata": code["metadata"], "payment_detail": {"receipt_id": "RCPT123456", "source": "DANA"}}
        self.payments.setdefault(code["id"], []).append(payment)
        code["status"] = "INACTIVE"
        return {"event": "qr.payment", "api_version": "2022-07-31", "business_id": code["business_id"],
                "created": now, "data": payment}
