"""A real ``healthbridge serve`` process on a free loopback port, for fault and load tests.

Unlike the in-process ``TestClient`` this is a separate OS process, so it can be killed with
SIGKILL and restarted on the same database. Clients build their headers with
:func:`client_headers` — the one place where an ``Authorization`` header will be added once
the access layer requires bearer tokens (``HEALTHBRIDGE_TEST_BEARER`` is honoured already).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"


#: The token secret live servers started by tests use (``HEALTHBRIDGE_AUTH_SECRET``).
LIVE_SECRET = "healthbridge-live-test-secret-0123456789abcdef"


def client_headers(**extra: str) -> dict[str, str]:
    """Default request headers for test clients: JSON and a bearer token of the system role
    (``HEALTHBRIDGE_TEST_BEARER`` when set, else one minted with :data:`LIVE_SECRET`)."""
    from healthbridge.access.tokens import Role, mint_token

    headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
    token = os.environ.get("HEALTHBRIDGE_TEST_BEARER") or mint_token(
        secret=LIVE_SECRET, role=Role.SYSTEM, subject="live-test-client"
    )
    headers["Authorization"] = f"Bearer {token}"
    headers.update(extra)
    return headers


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """``healthbridge serve`` as a subprocess; :meth:`kill` sends SIGKILL, :meth:`start`
    (re)starts it on the same port and database."""

    def __init__(self, database_url: str, data_dir: Path, *, port: int | None = None) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"serve-{self.port}.log"

    @property
    def base(self) -> str:
        """The FHIR base URL."""
        return f"http://127.0.0.1:{self.port}/fhir"

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until ``/fhir/metadata`` answers."""
        env = {
            **os.environ,
            "HEALTHBRIDGE_DATABASE_URL": self.database_url,
            "HEALTHBRIDGE_DATA_DIR": str(self.data_dir),
            "HEALTHBRIDGE_AUTH_SECRET": LIVE_SECRET,
        }
        code = "import sys; from healthbridge.cli import main; sys.exit(main())"
        args = [sys.executable, "-c", code, "serve", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*args, "--log-level", "warning"], env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/metadata", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush — a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Terminate gracefully (SIGTERM), SIGKILL after 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on the FHIR base with :func:`client_headers`."""
        return httpx.Client(base_url=self.base, headers=client_headers(), **kwargs)
