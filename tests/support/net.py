"""Small network helpers for the test harness."""

from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tcp_ready(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_tcp(host: str, port: int, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not tcp_ready(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what or 'server'} on {host}:{port} did not answer within {timeout}s")
        time.sleep(0.1)
