"""Is Kasir's server running on this PC? A lock file that `serve` holds, and the port it listens on.

The lock is an OS file lock, not just a pid in a file: the OS drops it when the process dies
(kill -9, power cut), so a file left behind never makes a dead server look alive.
"""
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

SERVER_LOCK_FILE = "server.pid"
WILDCARD_HOSTS = {"", "0.0.0.0", "::", "*"}


class ServerAlreadyRunning(RuntimeError):
    pass


def _try_lock(handle) -> bool:
    if sys.platform == "win32":
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock_and_close(handle) -> None:
    if sys.platform == "win32":
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    handle.close()  # closing releases a POSIX flock


@contextmanager
def server_lock(instance: Path) -> Iterator[Path]:
    """Hold the instance's server lock (with our pid in the file) for the body; removed on exit."""
    path = instance / SERVER_LOCK_FILE
    instance.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    if not _try_lock(handle):
        handle.close()
        raise ServerAlreadyRunning(f"Kasir server already running for {instance} (lock {path})")
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    try:
        yield path
    finally:
        if sys.platform == "win32":
            _unlock_and_close(handle)  # Windows cannot delete an open file
            path.unlink(missing_ok=True)
        else:
            path.unlink(missing_ok=True)  # before releasing: never delete a lock a newer server already holds
            _unlock_and_close(handle)


def run_as_server(instance: Path) -> None:
    """For `serve`: hold the instance's lock until the command ends, and end cleanly on SIGTERM.

    systemd (and LiveServer in the tests) stop the server with SIGTERM; exiting like Ctrl+C lets the
    job runner stop, the database connections close and the lock file go away.
    """
    try:
        click.get_current_context().with_resource(server_lock(instance))
    except ServerAlreadyRunning:
        raise click.ClickException(f"Server Kasir sudah berjalan untuk folder {instance}.") from None
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(_signum, _frame):
    raise SystemExit(0)


def lock_held(instance: Path) -> bool:
    path = instance / SERVER_LOCK_FILE
    if not path.exists():
        return False
    try:
        handle = open(path, "a+")
    except OSError:
        return True
    if _try_lock(handle):
        _unlock_and_close(handle)
        return False
    handle.close()
    return True


def connect_host(host: str) -> str:
    """Where a client on this PC reaches a server bound to `host`."""
    return "127.0.0.1" if host in WILDCARD_HOSTS else host


def port_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((connect_host(host), port), timeout=timeout):
            return True
    except OSError:
        return False


def server_running(instance: Path, host: str, port: int) -> bool:
    return lock_held(instance) or port_listening(host, port)
