"""Real outages for the fault tests: a redis-server of our own to kill and restart, a TCP proxy to
cut and restore between the app and PostgreSQL (or any other server), and live uvicorn processes.

Nothing here is a mock: the app meets refused connections, reset sockets and a vanished process,
exactly as it would in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from settings import ROOT

START_TIMEOUT = 30.0  # seconds a process may take to come up before the test fails


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Any, what: str, *, timeout: float = START_TIMEOUT) -> None:
    """Poll `ready()` until it is true; fail the test (not hang it) when it never gets there."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s", pytrace=False)
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """A redis-server process of this test alone, on a free port, without persistence."""

    def __init__(self, log_dir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (Debian package redis-server)", pytrace=False)
        self.binary = binary
        self.port = free_port()
        self.log = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: _accepts(self.port), f"redis-server on port {self.port} starting")

    def kill(self) -> None:
        """Gone at once, as after a crash: open connections are reset, new ones refused."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        wait_until(lambda: not _accepts(self.port), f"redis-server on port {self.port} stopping")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` refuses new connections and resets the open
    ones (a crashed server or a pulled cable), `restore()` accepts again on the same port; `freeze()`
    stops forwarding without closing anything (a route that silently drops packets), `thaw()` resumes.

    It runs its own event loop in a thread, so it serves apps in this process and in others alike.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._loop.call_soon_threadsafe(self._flowing.set)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=START_TIMEOUT)

    def restore(self) -> None:
        self._run(self._listen())

    def cut(self) -> None:
        self._run(self._cut())

    def freeze(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def thaw(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.set)

    def close(self) -> None:
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port, reuse_address=True)

    async def _shutdown(self) -> None:
        """Cut, then end every connection's task (a frozen one would wait for ever)."""
        await self._cut()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, upstream_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    await self._flowing.wait()  # frozen: held here, as a dropped route would lose it
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


class LiveServer:
    """`uvicorn app:create_app --factory` in a process of its own, with the given environment."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, *, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"server-{self.port}.log"
        command = [sys.executable, "-m", "uvicorn", "app:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        # The output goes to a file: a pipe nobody reads would fill up and stall the server.
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
            )

        def up() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"live server exited:\n{self.output()}", pytrace=False)
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, f"live server on port {self.port} starting")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def live_servers(count: int, env: Mapping[str, str], log_dir: Path) -> Iterator[list[LiveServer]]:
    servers: list[LiveServer] = []
    try:
        for _ in range(count):
            servers.append(LiveServer(env, log_dir))
        yield servers
    finally:
        for server in servers:
            server.stop()


def server_env(database_url: str, redis_url: str | None, prefix: str, **extra: str) -> dict[str, str]:
    """What a live server of the tests needs: the test database, Redis, no background jobs."""
    return {
        "ENV": "dev",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "REDIS_KEY_PREFIX": prefix,
        "RANKING_REFRESH_SECONDS": "0",
        "CONSULT_JOBS_ENABLED": "false",
        "SEED_DEMO_DATA": "false",
        **extra,
    }
