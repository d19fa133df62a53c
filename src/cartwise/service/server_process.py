"""Run `cartwise serve` as a child process: start it, wait until it answers, stop it by pid.

Used by the live demo and by tests, which must drive a real server over HTTP. The child
is the only process holding the store while it runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from cartwise.core.errors import StoreError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A `cartwise serve` child bound to `host:port`; output goes to `log_path` (or is inherited)."""

    def __init__(
        self,
        db: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.db = Path(db)
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, timeout: float = 60.0) -> ServerProcess:
        """Start the child and wait until `/api/v1/health` answers; raises StoreError if it dies first."""
        args = [
            sys.executable,
            "-m",
            "cartwise",
            "serve",
            "--db",
            str(self.db),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT if self._log else None, env=self.env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StoreError(
                    f"`cartwise serve` exited with code {self.proc.returncode} before answering"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop(sig=signal.SIGKILL)
        raise StoreError(f"`cartwise serve` did not answer on {self.url} within {timeout:.0f} s.")

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send `sig` to the child (by pid), wait for it, return its exit code."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, sig)
                try:
                    code = self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    code = self.proc.wait(timeout=10)
            else:
                code = self.proc.returncode
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
