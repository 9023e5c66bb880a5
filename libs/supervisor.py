"""`tierline up`: the local stack (own NATS + PostgreSQL unless URLs are given), the services (the console
too) each in its own supervised process (or all in one with --one-process), and one base URL in front of them."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import structlog
from aiohttp import web

from libs.config import TierlineConfig, load_config, sha256_hex
from libs.events import new_id
from libs.gateway import Routes, create_gateway, routes_of
from libs.localstack import LocalNats, LocalPostgres, die_with_parent, free_port
from libs.reload import drift, reload_on_sighup
from libs.runtime import serve
from libs.service import Registry, ServiceSpec
from libs.settings import Settings
from libs.stackfile import record_stack
from libs.tasks import cancel_and_wait
from libs.web import Runner, tls_context

log = structlog.get_logger()
DEMO_KEY = "demo-acme-key"  # documented in README; printed only when the running config accepts it
# The same alert as the README's first step, so trying one then the other lands on the same incident.
EXAMPLE_ALERT = '{"summary":"ERP database down","severity":"critical","service":"erp-db","dedup_key":"erp-db-down"}'


async def start_gateway(stack: AsyncExitStack, settings: Settings, routes: Routes) -> tuple[str, str]:
    """The public base URL, and the plain-HTTP loopback URL the console calls the APIs through (the same one
    unless the public one is TLS or not on loopback)."""
    runner = Runner(create_gateway(routes), access_log=None, handle_signals=False)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    port = settings.http_port or free_port()
    tls = tls_context(settings.tls_cert_file, settings.tls_key_file)
    try:
        await web.TCPSite(runner, settings.http_host, port, ssl_context=tls).start()
    except OSError:
        port = free_port()  # the default is taken (another stack?): say so and use a free one
        log.warning("gateway.port_taken", wanted=settings.http_port, using=port)
        await web.TCPSite(runner, settings.http_host, port, ssl_context=tls).start()
    public = f"{'https' if tls else 'http'}://{settings.http_host}:{port}"
    if not tls and settings.http_host in ("127.0.0.1", "0.0.0.0", "localhost"):
        return public, f"http://127.0.0.1:{port}"
    internal = free_port()
    await web.TCPSite(runner, "127.0.0.1", internal).start()
    return public, f"http://127.0.0.1:{internal}"


class ServiceProcess:
    """One service in a child process, restarted with backoff when it dies.

    The child binds a free port itself and writes it to `port_file` once it listens; only then does the
    gateway learn it, and the moment the child exits the gateway forgets it. (Picking a port here and
    handing it down let another process take it in between: the service crash-looped while the gateway
    forwarded requests, bearer tokens included, to whatever held the port.)
    """

    def __init__(self, name: str, env: dict[str, str], routes: Routes, run_dir: Path) -> None:
        self.name, self.routes = name, routes
        self.port_file = run_dir / f"{name}.port"
        self.env = env | {"TIERLINE_SERVICE_PORT": "0", "TIERLINE_PORT_FILE": str(self.port_file)}
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False

    async def supervise(self) -> None:
        backoff = 1.0
        while not self.stopping:
            started = time.monotonic()
            self.port_file.unlink(missing_ok=True)
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services",
                "serve",
                self.name,
                env=self.env,
                preexec_fn=lambda: die_with_parent(signal.SIGTERM),
            )
            learn = asyncio.create_task(self._learn_port())
            code = await self.proc.wait()
            self.routes.drop(self.name)  # at once: its old port may be anyone's now
            await cancel_and_wait(learn)
            if self.stopping:
                return
            backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)
            log.error("service.crashed", name=self.name, exit_code=code, restart_in_s=backoff)
            await asyncio.sleep(backoff)

    async def _learn_port(self) -> None:
        while True:
            with contextlib.suppress(OSError, ValueError):
                self.routes.set(self.name, int(self.port_file.read_text()))
                return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.stopping = True
        if self.proc and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                async with asyncio.timeout(15):  # not wait_for: it can swallow a cancel on 3.11
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()


def banner(
    url: str, settings: Settings, config: TierlineConfig, specs: list[ServiceSpec], own: dict[str, dict[str, str]]
) -> str:
    """The ready banner; each service's line is formatted with the base URL and what its `prepare` gave it."""
    lines = ["", f"  Tierline is ready at {url}"]
    lines += [f"  {s.banner.format(url=url, **own.get(s.name, {}))}" for s in specs if s.banner]
    lines.append(f"  health: {url}/readyz   NATS: {settings.nats_url}   PostgreSQL: {settings.database_url}")
    if sha256_hex(DEMO_KEY) in config.integration_keys:
        lines += [
            f"  demo integration key (tenant acme): {DEMO_KEY}",
            f"  try: curl -s -X POST {url}/v1/webhooks/generic -H 'X-Tierline-Key: {DEMO_KEY}' "
            f"-H 'Content-Type: application/json' -d '{EXAMPLE_ALERT}'",
        ]
    return "\n".join([*lines, "  Ctrl-C stops everything.", ""])


async def up(settings: Settings, registry: Registry, *, one_process: bool = False) -> None:
    config = load_config(settings.config)  # fail before starting anything if the config is wrong
    specs = [registry.spec(n) for n in registry.names]
    # A fresh id per start: each service's /readyz must name it before the gateway routes to it.
    routes = routes_of(specs, instance=new_id()[:16])
    async with AsyncExitStack() as stack:
        # Servers first: a second `tierline up` on the same data directory stops here, before it
        # could print a base URL that is not its own.
        settings = await start_servers(stack, settings)
        url, loopback = await start_gateway(stack, settings, routes)
        # Links people open from outside (a page's acknowledge link, a calendar feed) point at the base URL.
        settings = settings.model_copy(update={"public_url": settings.public_url or url})
        print(f"Tierline starting; its base URL will be {url} (/readyz answers 200 once all is up)", flush=True)
        # TLS is for the public base URL only; the gateway reaches the services over loopback HTTP, and the
        # console reaches the APIs through the gateway's loopback URL.
        internal = settings.model_copy(update={"tls_cert_file": None, "tls_key_file": None,
                                               "instance_id": routes.instance, "api_url": loopback})  # fmt: skip
        own = {s.name: s.prepare(internal) if s.prepare else {} for s in specs}  # e.g. the console's key
        if one_process:
            tasks = [
                asyncio.create_task(serve(s, internal.model_copy(update=own[s.name]), port=0,
                                          on_started=lambda _, p, n=s.name: routes.set(n, p)))
                for s in specs
            ]  # fmt: skip
            stack.push_async_callback(_cancel_all, tasks)
        else:
            await start_processes(stack, settings, routes, loopback, own)
        reloader = await reload_on_sighup(stack, internal)  # SIGHUP: re-read TIERLINE_CONFIG and apply it
        await _wait_ready(url)
        record_stack(stack, settings, url)
        print(banner(url, settings, config, specs, own), flush=True)
        if note := await drift(reloader):
            print(f"  {note}\n", flush=True)
        await asyncio.Event().wait()


async def start_processes(
    stack: AsyncExitStack, settings: Settings, routes: Routes, loopback: str, own: dict[str, dict[str, str]]
) -> None:
    """One supervised process per service, each with the common settings and its own (`own`: field -> value)."""
    run_dir = Path(tempfile.mkdtemp(prefix="tierline-up-"))
    stack.callback(shutil.rmtree, run_dir, ignore_errors=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TIERLINE_TLS_")},
        "TIERLINE_NATS_URL": settings.nats_url or "",
        "TIERLINE_DATABASE_URL": settings.database_url or "",
        "TIERLINE_CONFIG": str(settings.config),
        "TIERLINE_INSTANCE_ID": routes.instance,
        "TIERLINE_API_URL": loopback,
        "TIERLINE_PUBLIC_URL": settings.public_url or "",
    }
    procs = [
        ServiceProcess(n, env | {f"TIERLINE_{k.upper()}": v for k, v in own[n].items()}, routes, run_dir)
        for n in routes.services
    ]
    tasks = [asyncio.create_task(p.supervise()) for p in procs]
    stack.push_async_callback(_stop_procs, procs, tasks)


async def start_servers(stack: AsyncExitStack, settings: Settings) -> Settings:
    """Start our own NATS / PostgreSQL for whichever URL is not set; data survives restarts in data_dir. Each is
    restarted on its port and data directory whenever it dies, as the services are."""
    updates: dict[str, str] = {}
    data = settings.data_dir.resolve()
    if not (settings.nats_url and settings.database_url):
        hold_data_dir(stack, data)
    if not settings.nats_url:
        nats = LocalNats()
        updates["nats_url"] = await nats.start(data / "nats")
        keep_running(stack, nats)
    if not settings.database_url:
        pg = LocalPostgres()
        updates["database_url"] = await pg.start(data / "postgres", settings=settings.local_postgres_settings)
        keep_running(stack, pg)
    log.info("stack.servers", **updates)
    return settings.model_copy(update=updates)


def keep_running(stack: AsyncExitStack, server: LocalNats | LocalPostgres) -> None:
    task = asyncio.create_task(server.supervise(), name=f"supervise:{server.name}")

    async def stop() -> None:
        await server.stop()  # marks it stopping first, so its supervisor does not restart it
        await cancel_and_wait(task)

    stack.push_async_callback(stop)


def hold_data_dir(stack: AsyncExitStack, data: Path) -> None:
    """One `tierline up` per data directory: two NATS or PostgreSQL servers on one store would corrupt it."""
    data.mkdir(parents=True, exist_ok=True)
    lock = (data / "tierline-up.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise RuntimeError(f"another `tierline up` is using {data}; stop it, or set TIERLINE_DATA_DIR") from None
    stack.callback(lock.close)  # closing releases the lock


async def _wait_ready(url: str) -> None:
    import aiohttp

    # Our own gateway on loopback: its certificate may be one the local trust store does not know.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        for _ in range(600):
            with contextlib.suppress(Exception):
                async with session.get(f"{url}/readyz") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
    log.error("stack.not_ready", url=url, hint="see the service logs above")


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _stop_procs(procs: list[ServiceProcess], tasks: list[asyncio.Task[None]]) -> None:
    await asyncio.gather(*(p.stop() for p in procs))
    await _cancel_all(tasks)
