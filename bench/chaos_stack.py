"""The chaos suite's stack: one nats-server or a cluster of them, PostgreSQL, every service in its own processes
(one or more replicas each), and a webhook receiver that counts every delivery. Everything can be killed with
SIGKILL, stopped with SIGSTOP and started again on the same ports and data, so a fault is what a real one is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import nats
import nats.errors

from bench.chaos_receiver import Receiver
from libs.localstack import LocalPostgres, LocalProcess, die_with_parent, free_port, nats_server_binary, wait_for_port

SERVICES = ("intake", "triage", "escalation", "change", "reporting")
CONFIG_TEMPLATE = Path(__file__).with_name("chaos.yaml")


class NatsNode(LocalProcess):
    """One nats-server with JetStream; in a cluster, with routes to the other nodes' cluster ports."""

    def __init__(self, index: int, data_dir: Path, cluster: list[int] | None) -> None:
        super().__init__(f"nats-{index}")
        self.index, self.data_dir, self.cluster = index, data_dir, cluster
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def restart(self) -> None:
        await self.start()

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.data_dir),
                "--server_name", f"n{self.index}"]  # fmt: skip
        if self.cluster:
            routes = ",".join(f"nats://127.0.0.1:{p}" for i, p in enumerate(self.cluster) if i != self.index)
            args += ["--cluster_name", "chaos", "--cluster", f"nats://127.0.0.1:{self.cluster[self.index]}",
                     "--routes", routes]  # fmt: skip
        log_file = self.data_dir.parent / f"{self.name}.log"
        await self._spawn(args, log_file=log_file, stop_signal=signal.SIGTERM)
        assert self.proc
        await wait_for_port(self.port, self.proc, self.name, log_file)


class Nats:
    """`nodes` nats-servers (1: a single server; 3: a cluster with routes on local ports)."""

    def __init__(self, data: Path, nodes: int) -> None:
        cluster = [free_port() for _ in range(nodes)] if nodes > 1 else None
        self.nodes = [NatsNode(i, data / f"nats-{i}", cluster) for i in range(nodes)]

    @property
    def url(self) -> str:
        """TIERLINE_NATS_URL: the nodes, comma-separated."""
        return ",".join(n.url for n in self.nodes)

    async def start(self) -> None:
        await asyncio.gather(*(n.start() for n in self.nodes))
        await self.until_jetstream()

    async def until_jetstream(self, timeout: float = 60) -> None:
        """Until JetStream answers (in a cluster: the nodes found each other and elected a meta leader)."""
        nc = await nats.connect(self.url.split(","), connect_timeout=2)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                try:
                    await nc.jetstream(timeout=2).account_info()
                    return
                except nats.errors.Error:
                    if loop.time() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        finally:
            await nc.close()

    async def kill(self, index: int) -> None:
        node = self.nodes[index]
        assert node.proc
        with contextlib.suppress(ProcessLookupError):
            node.proc.send_signal(signal.SIGKILL)
        await node.proc.wait()

    async def stop(self) -> None:
        await asyncio.gather(*(n.stop() for n in self.nodes))


class Replica:
    """One service process (`tierline serve NAME`), on a port it binds itself and writes to its port file."""

    def __init__(self, name: str, index: int, env: dict[str, str], run_dir: Path) -> None:
        self.name, self.index = name, index
        self.port_file = run_dir / f"{name}-{index}.port"
        self.log_file = run_dir / f"{name}-{index}.log"
        self.env = env | {"TIERLINE_SERVICE_PORT": "0", "TIERLINE_PORT_FILE": str(self.port_file)}
        self.proc: asyncio.subprocess.Process | None = None
        self.crashes = 0  # exits nobody asked for (restarted, as a supervisor would)
        self._meant: set[int] = set()  # pids we killed or stopped ourselves
        self._stopping = False

    @property
    def url(self) -> str | None:
        try:
            return f"http://127.0.0.1:{int(self.port_file.read_text())}"
        except (OSError, ValueError):
            return None

    async def start(self) -> None:
        self.port_file.unlink(missing_ok=True)
        with self.log_file.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services", "serve", self.name, env=self.env, stdout=out, stderr=out,
                preexec_fn=lambda: die_with_parent(signal.SIGKILL),
            )  # fmt: skip
        self._watcher = asyncio.create_task(self._restart_on_crash(self.proc))

    async def _restart_on_crash(self, proc: asyncio.subprocess.Process) -> None:
        """A process that exits by itself (e.g. it started while the NATS cluster had no leader yet) is started
        again after a moment, as `tierline up` or an orchestrator does; one we killed is restarted by the harness."""
        await proc.wait()
        if self._stopping or proc.pid in self._meant:
            return
        self.crashes += 1
        await asyncio.sleep(0.5)
        if not self._stopping and self.proc is proc:
            await self.start()

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.returncode is None:
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self._meant.add(self.proc.pid)
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    async def kill(self) -> None:
        """kill -9, and wait until it is gone (its port file with it)."""
        self.signal(signal.SIGKILL)
        if self.proc:
            await self.proc.wait()
        self.port_file.unlink(missing_ok=True)

    async def ready(self, http: aiohttp.ClientSession) -> bool:
        if not (url := self.url) or not self.proc or self.proc.returncode is not None:
            return False
        try:
            async with http.get(f"{url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def stop(self) -> None:
        self._stopping = True
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if self.proc:
            try:
                async with asyncio.timeout(20):
                    await self.proc.wait()
            except TimeoutError:
                await self.kill()


@dataclass
class Postgres:
    """Our own PostgreSQL (durable: a killed one must keep what it committed), or a fresh database on a given one."""

    data: Path
    admin_url: str | None = None
    server: LocalPostgres | None = None
    url: str = ""

    async def start(self) -> str:
        if self.admin_url:  # a database of its own on a shared server (the test suite's)
            name = "chaos_" + uuid.uuid4().hex[:10]
            conn = await asyncpg.connect(self.admin_url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            self.url = self.admin_url.rpartition("/")[0] + f"/{name}"
        else:
            self.server = LocalPostgres()
            self.url = await self.server.start(self.data / "pg")
        return self.url

    async def kill(self) -> None:
        assert self.server and self.server.proc, "only our own PostgreSQL can be killed"
        os.kill(self.server.proc.pid, signal.SIGKILL)  # the postmaster, not a clean stop
        await self.server.proc.wait()

    async def restart(self) -> None:
        """Start again on the same port and data; a killed postmaster's backends may need a moment to go."""
        assert self.server
        for _ in range(100):
            try:
                await self.server.restart()
                return
            except RuntimeError:
                await asyncio.sleep(0.2)
        raise RuntimeError("PostgreSQL did not come back")

    async def stop(self) -> None:
        if self.server:
            await self.server.stop()


class Stack:
    """The whole stack for one experiment, under `tmp`: `nats_nodes` NATS nodes (streams with as many replicas),
    `replicas` processes of each service, our own PostgreSQL unless `admin_db_url` names one to make a database on."""

    def __init__(self, tmp: Path, *, nats_nodes: int = 1, replicas: int = 1, admin_db_url: str | None = None) -> None:
        self.tmp, self.replica_count = tmp, replicas
        self.nats = Nats(tmp, nats_nodes)
        self.pg = Postgres(tmp, admin_url=admin_db_url)
        self.receiver = Receiver(tmp)
        self.prefix = "chaos" + uuid.uuid4().hex[:6]
        self.services: dict[str, list[Replica]] = {}

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TIERLINE_NATS_URL": self.nats.url,
            "TIERLINE_DATABASE_URL": self.pg.url,
            "TIERLINE_CONFIG": str(self.tmp / "chaos.yaml"),
            "TIERLINE_BUS_PREFIX": self.prefix,
            "TIERLINE_STREAM_REPLICAS": str(len(self.nats.nodes)),
            "TIERLINE_INSTANCE_ID": "chaos",
            "TIERLINE_LOG_LEVEL": "warning",
            "TIERLINE_LOG_FORMAT": "json",
            "TIERLINE_ACK_WAIT_S": "3",  # what a killed process held comes back after 3 s, not 10
        }

    async def start(self, stack: contextlib.AsyncExitStack, http: aiohttp.ClientSession) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        await self.receiver.start(stack)
        (self.tmp / "chaos.yaml").write_text(CONFIG_TEMPLATE.read_text().replace("{receiver}", str(self.receiver.port)))
        await self.nats.start()
        stack.push_async_callback(self.nats.stop)
        await self.pg.start()
        stack.push_async_callback(self.pg.stop)
        env, run = self.env(), self.tmp / "run"
        run.mkdir(exist_ok=True)
        self.services = {s: [Replica(s, i, env, run) for i in range(self.replica_count)] for s in SERVICES}
        stack.push_async_callback(self.stop_services)
        await asyncio.gather(*(r.start() for r in self.replicas()))
        if not await self.until_whole(http, timeout=180):
            raise RuntimeError(f"the stack did not start; logs in {run}")

    def replicas(self) -> list[Replica]:
        return [r for rs in self.services.values() for r in rs]

    def urls(self, name: str) -> list[str]:
        """The base URLs of the service's replicas that are running now."""
        return [u for r in self.services[name] if r.proc and r.proc.returncode is None and (u := r.url)]

    async def until_whole(self, http: aiohttp.ClientSession, *, timeout: float = 120) -> bool:
        """Wait until every replica answers /readyz 200 (every dependency reachable): the stack is whole again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if all(await asyncio.gather(*(r.ready(http) for r in self.replicas()))):
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop_services(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.replicas()))
