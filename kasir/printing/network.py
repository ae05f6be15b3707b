"""The tcp:// printer backend (imported by kasir.printing.backends only when such a printer is opened)."""
import socket

from escpos.exceptions import DeviceNotFoundError
from escpos.printer.network import Network


class NetworkPrinter(Network):
    """escpos' Network printer, except that a failed connection closes its socket (3.1 leaves it open)."""

    def open(self, raise_not_found: bool = True) -> None:
        try:
            self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise DeviceNotFoundError(f"{self.host}:{self.port}: {exc}") from exc
