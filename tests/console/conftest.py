"""The console's tests: one real stack per module (the five services and the console in this process, real
NATS and PostgreSQL), sessions signed in over HTTP, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml

from libs.testing import RunningService, Servers, drop_database, fresh_database, fresh_settings
from services.registry import REGISTRY
from tests.conftest import CHROMIUM_FLAGS, NO_CHROMIUM, TEST_CONFIG, chromium

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "console"
BACKENDS = ("intake", "triage", "escalation", "change", "reporting")


@dataclass
class Stack:
    services: dict[str, RunningService]
    console: RunningService

    @property
    def url(self) -> str:
        return self.console.url

    def api(self, name: str) -> str:
        return self.services[name].url


def console_config(tmp: Path) -> Path:
    """The test config, with Acme's first escalation step slowed down so a test's incident stays in Tier 1
    while the browser works on it (2 s there is for the escalation tests)."""
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    acme = next(t for t in cfg["tenants"] if t["id"] == "acme")
    acme["escalation"] = {"steps": [{"tier": 1, "after": "30m"}, {"tier": 2, "after": "1h"}]}
    path = tmp / "console.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
async def stack(real_servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    db_url, name = await fresh_database(real_servers.admin_db_url)
    settings = fresh_settings(real_servers, db_url, console_config(tmp_path_factory.mktemp("console")))
    started: list[RunningService] = []
    try:
        for n in BACKENDS:
            started.append(await RunningService(REGISTRY.spec(n), settings).start())
        urls = {s.name: s.url for s in started}
        mine = settings.model_copy(update={"api_urls": urls, "console_secret": "console-test-secret"})
        console = await RunningService(REGISTRY.spec("console"), mine).start()
        started.append(console)
        yield Stack({s.name: s for s in started[:-1]}, console)
    finally:
        for svc in reversed(started):
            await svc.stop()
        await drop_database(real_servers.admin_db_url, name)


def client(**kwargs: object) -> aiohttp.ClientSession:
    """An HTTP client that keeps cookies for 127.0.0.1 (aiohttp's default jar refuses them for IP hosts)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **kwargs)  # type: ignore[arg-type]


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(http: aiohttp.ClientSession, url: str, token: str) -> aiohttp.ClientResponse:
    """Sign in as a browser does: the form (its pre-session CSRF cookie), then POST the token."""
    async with http.get(f"{url}/console/login") as r:
        nonce = CSRF.search(await r.text()).group(1)
    async with http.post(f"{url}/console/login", data={"token": token, "csrf": nonce}, allow_redirects=False) as r:
        return r


@pytest.fixture(scope="module")
async def browser():
    """One headless Debian Chromium per module, driven by Playwright (which never downloads a browser here)."""
    path = chromium()
    if path is None:
        pytest.skip(NO_CHROMIUM)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()
