"""A real ``redis-server`` for the hub tests and benchmarks: started on a free 127.0.0.1 port in
a temporary directory, without persistence, and stopped by whoever started it."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Optional

INSTALL_HINT = ("redis-server is not installed: the hub tests run a real one. Install it from the "
                "system packages, e.g. `sudo apt-get install -y redis-server` (Debian/Ubuntu), "
                "`brew install redis` (macOS), or point HBCONNECT_REDIS_SERVER at the binary")


def redis_server_binary() -> Optional[str]:
    return os.environ.get("HBCONNECT_REDIS_SERVER") or shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """``start()`` / ``stop()`` / ``kill()`` / ``restart()``; ``url`` is redis://127.0.0.1:PORT/0."""

    def __init__(self, binary: Optional[str] = None) -> None:
        binary = binary or redis_server_binary()
        if not binary:
            raise FileNotFoundError(INSTALL_HINT)
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="hbconnect-redis-")
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = ""
                try:
                    with open(os.path.join(self.dir, "redis.log")) as fh:
                        log = fh.read()[-2000:]
                except OSError:
                    pass
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}: {log}")
            time.sleep(0.02)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self) -> None:
        """Die at once (SIGKILL): everything in memory is lost."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def restart(self) -> None:
        """Killed and started again, empty, on the same port."""
        self.kill()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def redis_server_fixture():
    """The body of the ``redis_server`` fixture: a fresh server per test, or a clear failure (never a
    skip) when redis-server is missing."""
    import pytest

    if redis_server_binary() is None:
        pytest.fail(INSTALL_HINT)
    srv = RedisServer().start()
    try:
        yield srv
    finally:
        srv.close()
