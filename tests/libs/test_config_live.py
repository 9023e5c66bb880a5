"""Configuration versions over the bus (docs/configuration.md): the first start seeds version 1 from the file, an
apply stores the next version (compare-and-set) and publishes `config.applied` once, and every process swaps to it
whole. Real NATS JetStream: the versions are a key-value bucket's revisions."""

from __future__ import annotations

import asyncio
import re
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from libs.bus import connect_bus
from libs.config import sha256_hex
from libs.config.apply import apply, check_file, check_text
from libs.config.bucket import ConfigBucket, ConfigConflict, StoredConfig, Version
from libs.config.live import ConfigSnapshot, LiveConfig, start_live_config, take
from libs.events import utcnow
from libs.testing import stream_envelopes
from libs.web import LIVE, create_app, snapshot
from tests.conftest import TEST_CONFIG

RAW = yaml.safe_load(TEST_CONFIG.read_text())
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def with_tenant(tenant_id: str = "initech", key: str = "initech-key") -> str:
    """The test config plus one tenant with an integration key and a client token (YAML text)."""
    data = yaml.safe_load(TEST_CONFIG.read_text())
    tenant = {**data["tenants"][1], "id": tenant_id, "name": "Initech", "code": "INIT", "cab": {}, "mail": None,
              "integration_keys": [{"name": "zabbix", "key_sha256": sha256_hex(key)}],
              "api_tokens": [{"user": f"{tenant_id}-viewer", "role": "client_viewer",
                              "token_sha256": sha256_hex(f"{tenant_id}-viewer-token")}]}  # fmt: skip
    data["tenants"].append({k: v for k, v in tenant.items() if v is not None})
    return yaml.safe_dump(data)


async def applied_events(settings) -> list[dict]:
    return [e.data for e in await stream_envelopes(settings, "config.applied")]


async def test_the_first_start_seeds_version_1_once_however_many_start_together(settings):
    async with AsyncExitStack() as stack:
        lives = await asyncio.gather(*(start_live_config(stack, settings, name) for name in ("a", "b", "c")))
        assert {live.snapshot.version for live in lives} == {1}
        assert lives[0].snapshot.stored.sha256 == sha256_hex(TEST_CONFIG.read_text())  # type: ignore[union-attr]
    [event] = await applied_events(settings)
    assert (event["version"], event["via"], event["previous_version"]) == (1, "seed", None)
    assert "acme" in event["changes"]["tenants"]["added"]


async def test_an_apply_reaches_every_process_and_is_on_the_bus_once_without_secrets(settings):
    async with AsyncExitStack() as stack:
        one, two = [await start_live_config(stack, settings, n) for n in ("one", "two")]
        assert sha256_hex("initech-key") not in one.config().integration_keys
        bus = await connect_bus(settings, name="applier")
        stack.push_async_callback(bus.close)
        done = await apply(one.bucket, bus, check_text(with_tenant(), "new.yaml"), applied_by="ops", via="cli")  # type: ignore[arg-type]
        assert (done.version, done.changed) == (2, True)
        assert await one.reached(2) and await two.reached(2)
        for live in (one, two):
            assert sha256_hex("initech-key") in live.config().integration_keys
            assert sha256_hex("initech-viewer-token") in live.snapshot.tokens
        # The same text again changes nothing: no new version, no event.
        again = await apply(one.bucket, bus, check_text(with_tenant(), "new.yaml"), applied_by="ops", via="cli")  # type: ignore[arg-type]
        assert (again.version, again.changed) == (2, False)
    seed, event = await applied_events(settings)
    assert (event["version"], event["previous_version"], event["applied_by"], event["via"]) == (2, 1, "ops", "cli")
    assert event["changes"]["tenants"] == {"added": ["initech"], "removed": [], "changed": []}
    assert event["changes"]["integration_keys"]["added"] == ["initech/zabbix"]
    assert event["changes"]["api_tokens"]["added"] == ["initech-viewer"]
    assert not HEX64.findall(str(event["changes"])) and not HEX64.findall(str(seed["changes"]))


async def test_a_revoked_key_and_a_removed_token_are_in_the_diff_by_name(settings):
    data = yaml.safe_load(TEST_CONFIG.read_text())
    data["tenants"][0]["integration_keys"][0]["revoked"] = True  # acme's prometheus key
    data["provider"]["api_tokens"] = [t for t in data["provider"]["api_tokens"] if t["user"] != "carol"]
    data["tenants"][0]["cab"] = {"members": ["alice", "bob"], "quorum": 1}
    async with AsyncExitStack() as stack:
        live = await start_live_config(stack, settings, "one")
        bus = await connect_bus(settings, name="applier")
        stack.push_async_callback(bus.close)
        checked = check_text(yaml.safe_dump(data), "revoke.yaml")
        await apply(live.bucket, bus, checked, applied_by="ops", via="cli")  # type: ignore[arg-type]
        assert await live.reached(2)
        assert sha256_hex("acme-key") not in live.config().integration_keys
    changes = (await applied_events(settings))[-1]["changes"]
    assert changes["integration_keys"]["revoked"] == ["acme/prometheus"]
    assert changes["integration_keys"]["changed"] == ["acme/prometheus"]
    assert changes["api_tokens"]["removed"] == ["carol"] and changes["tenants"]["changed"] == ["acme"]


async def test_two_applies_from_the_same_version_cannot_both_win(settings):
    """Both read version 1 before either writes: one stores version 2, the other is refused and changes nothing."""
    barrier = asyncio.Barrier(2)

    class Racing(ConfigBucket):
        async def current(self) -> Version | None:
            found = await super().current()
            await barrier.wait()
            return found

    async with AsyncExitStack() as stack:
        live = await start_live_config(stack, settings, "one")
        bus = await connect_bus(settings, name="applier")
        stack.push_async_callback(bus.close)
        racing = Racing(live.bucket.kv)  # type: ignore[union-attr]
        texts = [with_tenant("initech", "initech-key"), with_tenant("hooli", "hooli-key")]
        results = await asyncio.gather(
            *(apply(racing, bus, check_text(t, "x.yaml"), applied_by="ops", via="cli") for t in texts),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["Applied", "ConfigConflict"]
        current = await live.bucket.current()  # type: ignore[union-attr]
        assert current is not None and current.number == 2
        with pytest.raises(ConfigConflict):  # and a stale compare-and-set, as such, is refused
            await live.bucket.put(StoredConfig.of("x", applied_by="ops", via="cli", at=utcnow()), after=1)  # type: ignore[union-attr]
    assert [e["version"] for e in await applied_events(settings)] == [1, 2]


def test_an_invalid_file_lists_every_error_with_its_path(tmp_path: Path):
    data = yaml.safe_load(TEST_CONFIG.read_text())
    data["tenants"][0]["contract"]["sla"]["P1"]["respond"] = "soon"
    data["tenants"][1]["code"] = "lower"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    checked = check_file(path)
    assert checked.config is None
    assert {p.where for p in checked.errors} == {"tenants.0.contract.sla.P1.respond", "tenants.1.code"}
    assert check_file(tmp_path / "missing.yaml").errors[0].where == "file"
    assert check_text("tenants: [", "broken").errors[0].where == "yaml"


def test_a_version_this_process_cannot_read_is_refused_and_the_one_in_force_stays():
    live = LiveConfig.fixed(check_file(TEST_CONFIG).config)  # type: ignore[arg-type]
    bad = Version(7, StoredConfig.of("tenants: 3", applied_by="ops", via="cli", at=utcnow()))
    take(live, bad)
    assert (live.snapshot.version, live.refused) == (0, 7)
    good = Version(8, StoredConfig.of(TEST_CONFIG.read_text(), applied_by="ops", via="cli", at=utcnow()))
    take(live, good)
    assert live.snapshot.version == 8


async def test_a_request_keeps_the_version_it_started_with():
    """A swap while a request is in flight: the request finishes on its own version; the next one gets the new."""
    config = check_file(TEST_CONFIG).config
    assert config is not None
    live = LiveConfig(ConfigSnapshot.of(config, version=1))
    swapped = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        before = snapshot(request).version
        live.offer(ConfigSnapshot.of(config, version=2))
        swapped.set()
        await asyncio.sleep(0)
        return web.json_response({"before": before, "after": snapshot(request).version})

    app = create_app()
    app[LIVE] = live
    app.router.add_get("/slow", slow)
    async with TestClient(TestServer(app)) as client:
        first = await (await client.get("/slow")).json()
        ready = await (await client.get("/readyz")).json()
    assert swapped.is_set() and first == {"before": 1, "after": 1}
    assert ready["config_version"] == 2
