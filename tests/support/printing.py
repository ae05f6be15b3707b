"""A loopback stand-in for a network receipt printer."""
import socket
import threading
import time


class PrinterListener:
    """A loopback stand-in for a network receipt printer: keeps the bytes of each connection."""

    def __init__(self, port: int):
        self.port = port
        self.jobs: list[bytes] = []
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", port))
        self._server.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
                self.jobs.append(b"".join(chunks))

    def wait_for_jobs(self, count: int, timeout: float = 5) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.jobs) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.jobs

    def close(self):
        self._stop.set()
        self._thread.join()
        self._server.close()
