"""waitress as Kasir serves with it."""
import waitress
from waitress.channel import HTTPChannel
from waitress.task import WSGITask


class _NoContentKeepsAlive(WSGITask):
    """waitress 3.0 closes an HTTP/1.1 connection after any answer without Content-Length, a 204 or 304
    too, which must not carry one (RFC 9110 §8.6): each unchanged customer-display poll (DESIGN §8) cost
    a new TCP connection. Such an answer has nothing to delimit, so the connection stays open."""

    _building_header = False

    def build_response_header(self):
        self._building_header = True
        try:
            return super().build_response_header()
        finally:
            self._building_header = False

    def set_close_on_finish(self) -> None:
        if (self._building_header and not self.has_body and self.version == "1.1"
                and self.request.headers.get("CONNECTION", "").lower() != "close"):
            return
        super().set_close_on_finish()


def serve(app, **options) -> None:
    HTTPChannel.task_class = _NoContentKeepsAlive  # this process serves only Kasir
    waitress.serve(app, **options)
