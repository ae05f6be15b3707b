"""A loopback BI SNAP QRIS gateway on pytest-httpserver (shared/contracts/snap-bi.md).

It checks what a SNAP gateway checks: the token call's RSA-SHA256 signature with the merchant's public key,
then on every call the Bearer token, X-PARTNER-ID, CHANNEL-ID, a numeric X-EXTERNAL-ID, the JSON content
type and the HMAC-SHA512 signature over the raw body bytes as they arrived. Keys are made per test.
"""
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from werkzeug.wrappers import Response

from kasir import qris
from support.gateways import STATIC_VECTOR

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)")


def rsa_pair() -> tuple[str, str, object]:
    """A throwaway 2048-bit pair: (private PEM, public PEM, private key object)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public, key


def rsa_signature(key, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def hmac_of(secret: str, method: str, path: str, token: str, body: bytes, timestamp: str) -> str:
    text = f"{method}:{path}:{token}:{hashlib.sha256(body).hexdigest()}:{timestamp}"
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha512).digest()).decode()


class SnapFake:
    """Routes of one gateway. `signed_prefix`: what of the URL path the gateway leaves out of the signature."""

    def __init__(self, httpserver, *, client_id: str, secret: str, merchant_public_pem: str, base_path: str,
                 token_path: str, qr_prefix: str, channel_id: str, signed_prefix: str = "",
                 token_extra: dict | None = None, cancel_path: str | None = None, expires_in=900):
        self.server = httpserver
        self.client_id, self.secret, self.channel_id = client_id, secret, channel_id
        self.public_key = serialization.load_pem_public_key(merchant_public_pem.encode())
        self.base_path, self.signed_prefix = base_path, signed_prefix
        self.token_extra = token_extra or {}
        self.expires_in = expires_in
        self.tokens: set[str] = set()
        self.slow_next: set[str] = set()  # ops whose next call is answered after the caller gave up
        self.honour_tokens = True  # False: tokens are issued but never accepted afterwards
        self.calls: list[dict] = []
        self.rejections: list[str] = []
        self.transactions: dict[str, dict] = {}
        self.seen_external_ids: dict[str, bytes] = {}
        self.url = httpserver.url_for(base_path).rstrip("/")
        httpserver.expect_request(base_path + token_path, method="POST").respond_with_handler(self._token)
        ops = ["qr-mpm-generate", "qr-mpm-query", "qr-mpm-refund"]
        for op in ops:
            httpserver.expect_request(f"{base_path}{qr_prefix}/v1.0/qr/{op}", method="POST").respond_with_handler(
                lambda request, op=op: self._op(request, op))
        if cancel_path:
            httpserver.expect_request(f"{base_path}{qr_prefix}{cancel_path}", method="POST").respond_with_handler(
                lambda request: self._op(request, "cancel"))

    # -- helpers for tests -----------------------------------------------------------------------
    def of(self, op: str) -> list[dict]:
        return [call for call in self.calls if call["op"] == op]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def pay(self, reference: str) -> None:
        self.transactions[reference]["status"] = "00"

    @staticmethod
    def answer(body: dict, http: int = 200) -> Response:
        return Response(json.dumps(body), status=http, content_type="application/json")

    # -- token -----------------------------------------------------------------------------------
    def _token(self, request) -> Response:
        body = request.get_data()
        headers = request.headers
        problem = None
        if headers.get("X-CLIENT-KEY") != self.client_id:
            problem = "X-CLIENT-KEY"
        elif not ISO.fullmatch(headers.get("X-TIMESTAMP", "")):
            problem = "X-TIMESTAMP"
        elif json.loads(body) != {"grantType": "client_credentials", **self.token_extra}:
            problem = "token body"
        else:
            try:
                self.public_key.verify(base64.b64decode(headers.get("X-SIGNATURE", "")),
                                       f"{self.client_id}|{headers['X-TIMESTAMP']}".encode(), padding.PKCS1v15(),
                                       hashes.SHA256())
            except (InvalidSignature, ValueError):
                problem = "token X-SIGNATURE"
        self.calls.append({"op": "token", "headers": dict(headers), "body": body})
        if problem:
            self.rejections.append(problem)
            return self.answer({"responseCode": "4017300", "responseMessage": f"Unauthorized. {problem}"}, 401)
        token = secrets.token_urlsafe(16)
        if self.honour_tokens:
            self.tokens.add(token)
        return self.answer({"responseCode": "2007300", "responseMessage": "Successful", "accessToken": token,
                            "tokenType": "Bearer", "expiresIn": self.expires_in})

    # -- signed operations -----------------------------------------------------------------------
    def check(self, request, service: str) -> str | None:
        """What is wrong with a signed call (None: nothing). The signature is over the raw bytes received."""
        headers, raw = request.headers, request.get_data()
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return f"401{service}01"
        if headers.get("X-PARTNER-ID") != self.client_id or headers.get("CHANNEL-ID") != self.channel_id:
            return f"401{service}00"
        if not re.fullmatch(r"\d{1,36}", headers.get("X-EXTERNAL-ID", "")):
            return f"400{service}02"
        if not headers.get("Content-Type", "").startswith("application/json"):
            return f"400{service}01"
        timestamp = headers.get("X-TIMESTAMP", "")
        if not ISO.fullmatch(timestamp):
            return f"400{service}01"
        path = request.path.removeprefix(self.signed_prefix)
        expected = hmac_of(self.secret, request.method, path, token, raw, timestamp)
        if not hmac.compare_digest(expected, headers.get("X-SIGNATURE", "")):
            return f"401{service}00"
        return None

    def _op(self, request, op: str) -> Response:
        service = {"qr-mpm-generate": "47", "qr-mpm-query": "51", "qr-mpm-refund": "78", "cancel": "77"}[op]
        raw = request.get_data()
        self.calls.append({"op": op, "headers": dict(request.headers), "body": raw})
        problem = self.check(request, service)
        if problem:
            self.rejections.append(problem)
            return self.answer({"responseCode": problem, "responseMessage": "Unauthorized"}, int(problem[:3]))
        external_id = request.headers["X-EXTERNAL-ID"]
        if op in self.slow_next:
            self.slow_next.discard(op)
            time.sleep(1)
        body = json.loads(raw)
        if op == "qr-mpm-generate":
            return self._generate(body, external_id, raw)
        transaction = self.transactions.get(body.get("originalPartnerReferenceNo"))
        if transaction is None or transaction["referenceNo"] != body.get("originalReferenceNo"):
            return self.answer({"responseCode": f"404{service}01", "responseMessage": "Transaction Not Found"}, 404)
        if op == "qr-mpm-query":
            assert body["serviceCode"] == "47"
            return self.answer({"responseCode": "2005100", "responseMessage": "Successful",
                                "originalReferenceNo": transaction["referenceNo"],
                                "originalPartnerReferenceNo": body["originalPartnerReferenceNo"],
                                "latestTransactionStatus": transaction["status"],
                                "paidTime": "2026-12-06T08:15:00+07:00" if transaction["status"] == "00" else None,
                                "amount": transaction["amount"],
                                "additionalInfo": {"approvalCode": "APV123"}})
        if op == "qr-mpm-refund":
            transaction["status"] = "04"
            transaction["refund"] = body
            return self.answer({"responseCode": "2007800", "responseMessage": "Successful",
                                "refundNo": "RF" + transaction["referenceNo"]})
        transaction["status"] = "05"
        return self.answer({"responseCode": "2007700", "responseMessage": "Successful"})

    def _generate(self, body: dict, external_id: str, raw: bytes) -> Response:
        if external_id in self.seen_external_ids:
            if self.seen_external_ids[external_id] != raw:
                return self.answer({"responseCode": "4094700", "responseMessage": "Conflict"}, 409)
        self.seen_external_ids[external_id] = raw
        reference = body["partnerReferenceNo"]
        if reference not in self.transactions:
            self.transactions[reference] = {"referenceNo": f"A{len(self.transactions) + 1:011d}", "status": "03",
                                            "amount": body["amount"]}
        datetime.fromisoformat(body["validityPeriod"])
        return self.answer({"responseCode": "2004700", "responseMessage": "Successful",
                            "referenceNo": self.transactions[reference]["referenceNo"],
                            "partnerReferenceNo": reference,
                            "qrContent": qris.to_dynamic(STATIC_VECTOR, int(float(body["amount"]["value"])))})
