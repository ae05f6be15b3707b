"""The API's error body (DESIGN §7): {"error": {"code", "message", "details"}}."""
from flask import jsonify


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def response(self):
        return jsonify(self.body()), self.status, self.headers
