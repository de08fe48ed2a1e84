"""Real processes for tests, benchmarks and screenshots: a private Redis and queueapp servers.

These start the real thing (``redis-server``, ``python -m queueapp serve``)
on free loopback ports, so that tests exercise what users run and never
touch a database they did not create.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

STARTUP_SECONDS = 20.0

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium, for the browser tests and the screenshots: Playwright's own
browser download does not work offline."""

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
"""How the browser tests and ``scripts/screenshots`` launch Chromium."""

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
"""A phone's browser context (Playwright ``new_context`` options)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Child:
    """A child process that is started, waited for until it answers, and stopped."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()
            self._process = None

    def _launch(
        self,
        what: str,
        command: list[str],
        log_path: Path,
        ready: Callable[[], bool],
        poll_seconds: float,
        **popen: Any,
    ) -> None:
        """Start ``command`` with its output in ``log_path``; return once ``ready()`` is true."""
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what} did not start; see {log_path}")
            time.sleep(poll_seconds)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RedisServer(_Child):
    """A throwaway redis-server whose data survives restarts (AOF, fsync on every write)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        super().__init__()
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
        ]  # fmt: skip
        log_path = self.directory / "redis.log"
        self._launch(
            "redis-server", command, log_path, lambda: self.answers("PING", b"+PONG"), 0.02
        )

    def stop(self) -> None:
        """Kill without a clean shutdown: what was acknowledged must already be on disk."""
        self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        if not self.answers("FLUSHALL", b"+OK"):
            raise RuntimeError("FLUSHALL failed on the test redis-server")

    def answers(self, command: str, reply: bytes) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(command.encode() + b"\r\n")
                return sock.recv(64).startswith(reply)
        except OSError:
            return False


class ServerProcess(_Child):
    """``queueapp serve`` in a child process, ready when its API answers."""

    def __init__(
        self,
        store_url: str,
        directory: Path,
        port: int | None = None,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        demo: bool = False,
    ) -> None:
        super().__init__()
        self.store_url = store_url
        self.directory = directory
        self.port = port or free_port()
        self.workers = workers
        self.env = dict(env or {})
        self.demo = demo
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / f"server-{self.port}.log"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "queueapp", "serve",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--store", self.store_url,
            "--workers", str(self.workers),
        ]  # fmt: skip
        if self.demo:
            command.append("--demo")
        env = {**os.environ, **self.env}
        self._launch(
            "queueapp", command, self.log_path, self._ready, 0.05, cwd=self.directory, env=env
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/branches", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False
