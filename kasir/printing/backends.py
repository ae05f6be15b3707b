"""Printer connections from a PRINTER_URL (DESIGN §10, §13), through python-escpos.

`usb://04b8:0e15`, `tcp://192.168.1.50[:9100]`, `serial:///dev/ttyUSB0[?baudrate=9600]` (or `serial://COM3`),
`win32://Printer Name`, `file:///path`, or `none` (printing off). The USB, serial and Windows backends
need pyusb, pyserial and pywin32; a missing one only fails that backend, with a message saying so.
python-escpos is imported only when a printer is opened: its capability tables cost the server
about 10 MB of memory and half a second of start-up that a shop without a printer never needs.
"""
import importlib
import logging
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

PRINTING_OFF = "none"
NETWORK_PORT = 9100
NETWORK_TIMEOUT_SECONDS = 5
SERIAL_BAUDRATES = (9600, 19200, 38400, 57600, 115200)
URL_EXAMPLES = ("usb://04b8:0e15, tcp://192.168.1.50:9100, serial:///dev/ttyUSB0, win32://Nama Printer, "
                "file:///tmp/struk.bin atau none")

# kind: (module, class, the package the backend needs)
BACKENDS = {
    "usb": ("escpos.printer.usb", "Usb", "pyusb"),
    "tcp": ("kasir.printing.network", "NetworkPrinter", None),
    "serial": ("escpos.printer.serial", "Serial", "pyserial"),
    "win32": ("escpos.printer.win32raw", "Win32Raw", "pywin32"),
    "file": ("escpos.printer.file", "File", None),
}


# Staff read this at the till and on the Z report: no variable names.
PRINTER_NOT_SET = "Printer struk belum diatur. Atur di Admin › Printer."


class PrinterError(Exception):
    """The printer is misconfigured, unreachable or refused the job; the message is Indonesian and safe to show."""


def is_printing_off(url: str) -> bool:
    return url.strip().lower() in ("", PRINTING_OFF)


def _bad_url(url: str, reason: str) -> PrinterError:
    return PrinterError(f"Alamat printer “{url[:80]}” tidak valid: {reason}. Contoh: {URL_EXAMPLES}.")


def _usb_options(url: str, address: str) -> dict:
    vendor, _, product = address.partition(":")
    try:
        ids = int(vendor, 16), int(product, 16)
    except ValueError:
        raise _bad_url(url, "USB butuh VID:PID dalam heksadesimal") from None
    if not all(0 < value <= 0xFFFF for value in ids):
        raise _bad_url(url, "VID dan PID USB harus 0001–ffff")
    return {"idVendor": ids[0], "idProduct": ids[1]}


def _tcp_options(url: str) -> dict:
    parts = urlsplit(url)
    try:
        port = parts.port or NETWORK_PORT
    except ValueError:
        raise _bad_url(url, "port harus angka 1–65535") from None
    if not parts.hostname or parts.path not in ("", "/"):
        raise _bad_url(url, "tulis tcp://alamat-ip:port")
    return {"host": parts.hostname, "port": port, "timeout": NETWORK_TIMEOUT_SECONDS}


def _serial_options(url: str) -> dict:
    parts = urlsplit(url)
    device = unquote(parts.netloc + parts.path)
    baudrate = parse_qs(parts.query).get("baudrate", ["9600"])[-1]
    if not device:
        raise _bad_url(url, "port serial kosong")
    if not baudrate.isdigit() or int(baudrate) not in SERIAL_BAUDRATES:
        raise _bad_url(url, f"baudrate harus salah satu dari {', '.join(map(str, SERIAL_BAUDRATES))}")
    return {"devfile": device, "baudrate": int(baudrate)}


def parse_printer_url(url: str) -> tuple[str, dict]:
    """The backend kind and its python-escpos arguments for a PRINTER_URL; raises PrinterError when malformed."""
    url = url.strip()
    scheme, separator, address = url.partition("://")
    kind = scheme.lower()
    if not separator or kind not in BACKENDS:
        raise _bad_url(url, "jenis sambungan tidak dikenal")
    if not address.strip():
        raise _bad_url(url, "alamat kosong")
    if kind == "usb":
        return kind, _usb_options(url, address)
    if kind == "tcp":
        return kind, _tcp_options(url)
    if kind == "serial":
        return kind, _serial_options(url)
    if kind == "win32":
        return kind, {"printer_name": unquote(address)}
    return kind, {"devfile": unquote(address)}


def open_printer(url: str):
    """A python-escpos printer for the URL, not yet connected. The backend's module is imported only now."""
    kind, options = parse_printer_url(url)
    module_name, class_name, package = BACKENDS[kind]
    printer_class = getattr(importlib.import_module(module_name), class_name)
    if not printer_class.is_usable():
        raise PrinterError(f"Printer {kind} butuh paket Python “{package}”, yang belum terpasang.")
    return printer_class(**options)


def short_reason(error: BaseException) -> str:
    """The underlying cause on one line, short enough for a toast and the print_jobs row."""
    error = error.__cause__ or error
    return " ".join(str(error).split())[:120] or type(error).__name__


def send(url: str, data: bytes) -> None:
    """Deliver rendered ESC/POS bytes in one write; any failure comes back as a PrinterError."""
    printer = open_printer(url)
    try:
        printer.open()
        try:
            printer._raw(data)  # python-escpos' documented way to send prepared bytes
        finally:
            printer.close()
    # The hardware boundary: USB, serial ports, sockets and spoolers each fail in their own way.
    except Exception as exc:
        log.warning("printer %s failed: %s", url, short_reason(exc))
        raise PrinterError(f"Printer tidak bisa dihubungi ({url[:60]}): {short_reason(exc)}") from exc
