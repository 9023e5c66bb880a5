"""Configuration changes without a restart, against a real `tierline up` (docs/configuration.md): a tenant added by
`tierline config apply` while alerts flow for another loses none and works at once with the same processes; an
invalid file changes nothing; a revoked key or token is refused right after; SIGHUP and POST /v1/config/reload
apply the file `tierline up` was started with; every version is on the ledger, without secrets."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from libs.config import sha256_hex
from tests.conftest import TEST_CONFIG, auth, eventually
from tests.e2e.test_stack import ready, service_pids, stop, tierline_up, up_env

pytestmark = pytest.mark.slow
SERVICES = ("intake", "triage", "escalation", "change", "reporting", "console")
SECRETS = [sha256_hex(s) for s in ("acme-key", "acme-db-key", "initech-key", "admin-token", "acme-viewer-token")]


def config_text(*, initech: bool = False, revoke: bool = False, hooli: bool = False, bad: bool = False) -> str:
    """The test config, with tenant initech (key initech-key) added, acme's db-monitor key revoked and its viewer
    token removed, tenant hooli added, or an error in two places."""
    data = yaml.safe_load(TEST_CONFIG.read_text())
    globex = data["tenants"][1]
    for wanted, tid, code in ((initech, "initech", "INIT"), (hooli, "hooli", "HOOLI")):
        if wanted:
            key = {"name": "zabbix", "key_sha256": sha256_hex(f"{tid}-key")}
            data["tenants"].append({"id": tid, "name": tid.title(), "code": code, "contract": globex["contract"],
                                    "services": [{"id": "erp", "name": "ERP", "category": "cloud"}],
                                    "integration_keys": [key]})  # fmt: skip
    if revoke:
        data["tenants"][0]["integration_keys"][1]["revoked"] = True  # db-monitor: acme-db-key
        data["tenants"][0]["api_tokens"] = []  # acme-viewer
    if bad:
        data["tenants"][0]["contract"]["sla"]["P1"]["respond"] = "soon"
        data["tenants"][1]["code"] = "lower"
    return yaml.safe_dump(data)


async def tierline(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def versions(http, url: str) -> dict[str, int]:
    async with http.get(f"{url}/readyz") as r:
        return {n: s.get("config_version") for n, s in (await r.json())["services"].items()}


async def alert(http, url: str, key: str, n: int) -> int:
    body = {"summary": f"disk {n} full", "severity": "warning", "service": "erp-db", "dedup_key": f"flow-{n}"}
    async with http.post(f"{url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": key}) as r:
        return r.status


async def incident_keys(http, url: str, tenant: str) -> set[str]:
    async with http.get(f"{url}/v1/incidents", params={"tenant": tenant, "limit": "500"},
                        headers=auth("admin-token")) as r:  # fmt: skip
        return {i["dedup_key"] for i in (await r.json())["items"]} if r.status == 200 else set()


@pytest.fixture
async def stack(tmp_path, http):
    """`tierline up` on a copy of the test config it may be told to re-read; (url, env, config file, log, pid)."""
    config = tmp_path / "tierline.yaml"
    config.write_text(TEST_CONFIG.read_text())
    env = up_env(tmp_path, config) | {"TIERLINE_LOG_LEVEL": "info"}
    log = tmp_path / "up.log"
    proc, url = await tierline_up(env, log)
    try:
        await eventually(lambda: ready(http, url), timeout=90, interval=0.2, why=log)
        yield url, env, config, log, proc.pid
    finally:
        await stop(proc)


async def test_a_tenant_added_while_alerts_flow_for_another_loses_none(stack, http, tmp_path):
    url, env, _, log, pid = stack
    pids = {n: service_pids(pid, n) for n in SERVICES}
    assert await versions(http, url) == dict.fromkeys(SERVICES, 1)  # seeded from the file at the first start
    assert await alert(http, url, "initech-key", 0) == 401
    accepted: list[int] = []
    flowing = asyncio.Event()

    async def flow() -> None:  # alerts for acme, one after another, until told to stop
        n = 0
        while not flowing.is_set():
            if await alert(http, url, "acme-key", n) == 202:
                accepted.append(n)
            n += 1

    sender = asyncio.create_task(flow())
    await eventually(lambda: asyncio.sleep(0, len(accepted) >= 20), why=log)
    new = tmp_path / "new.yaml"
    new.write_text(config_text(initech=True))
    code, out, err = await tierline(env, "config", "apply", str(new))
    assert code == 0, err
    assert (
        "applied as config version 2 (tenants added: initech;" in out and "every service runs config version 2" in out
    )
    assert await alert(http, url, "initech-key", 1) == 202  # at once: the command returned once all swapped
    during = len(accepted)
    await eventually(lambda: asyncio.sleep(0, len(accepted) >= during + 20), why=log)
    flowing.set()
    await sender
    # None lost: every alert answered 202 before, during and after the swap is an incident (one dedup key each).
    sent = {f"flow-{n}" for n in accepted}
    await eventually(lambda: _equal(incident_keys(http, url, "acme"), sent), timeout=30, why=log)
    assert await eventually(lambda: incident_keys(http, url, "initech")) == {"flow-1"}
    assert {n: service_pids(pid, n) for n in SERVICES} == pids  # no process restarted
    assert await versions(http, url) == dict.fromkeys(SERVICES, 2)
    async with http.get(f"{url}/services/triage/metrics") as r:
        assert 'tierline_config_version{service="triage"} 2.0' in await r.text()

    # An invalid file changes nothing and says every error with its path.
    bad = tmp_path / "bad.yaml"
    bad.write_text(config_text(bad=True))
    code, out, err = await tierline(env, "config", "apply", str(bad))
    assert code == 1 and "nothing applied" in err
    assert "tenants.0.contract.sla.P1.respond:" in err and "tenants.1.code:" in err
    assert await versions(http, url) == dict.fromkeys(SERVICES, 2)

    # A revoked key and a removed token are refused right after the command returns.
    async with http.get(f"{url}/v1/incidents", headers=auth("acme-viewer-token")) as r:
        assert r.status == 200
    assert await alert(http, url, "acme-db-key", 2) == 202
    new.write_text(config_text(initech=True, revoke=True))
    code, out, err = await tierline(env, "config", "apply", str(new))
    assert code == 0 and "integration keys revoked: acme/db-monitor" in out, err
    async with http.get(f"{url}/v1/incidents", headers=auth("acme-viewer-token")) as r:
        assert r.status == 401
    assert await alert(http, url, "acme-db-key", 3) == 401


async def _equal(found, expected: set[str]) -> bool:
    return await found == expected


async def test_sighup_reload_endpoint_concurrent_applies_and_the_ledger(stack, http, tmp_path):
    url, env, config, log, pid = stack
    # SIGHUP: `tierline up` re-reads its TIERLINE_CONFIG and applies it.
    config.write_text(config_text(initech=True))
    os.kill(pid, signal.SIGHUP)
    await eventually(lambda: _all_on(http, url, 2), why=log)
    assert "config.reloaded" in log.read_text() and "tenants added: initech" in log.read_text()
    config.write_text(config_text(bad=True))  # an invalid file on SIGHUP: the log lists the errors, nothing changes
    os.kill(pid, signal.SIGHUP)
    await eventually(lambda: asyncio.sleep(0, "config.reload_refused" in log.read_text()), why=log)
    assert "tenants.1.code" in log.read_text() and await versions(http, url) == dict.fromkeys(SERVICES, 2)

    # POST /v1/config/reload: provider admins only; 422 with every error, then 200 with the version.
    reload = f"{url}/v1/config/reload"
    async with http.post(reload, headers=auth("eng-token")) as r:
        assert r.status == 403
    async with http.post(reload, headers=auth("admin-token")) as r:
        body = await r.json()
        assert r.status == 422 and body["error"]["code"] == "invalid_config"
        assert {"tenants.0.contract.sla.P1.respond", "tenants.1.code"} <= {d["field"] for d in body["error"]["details"]}
    config.write_text(config_text(initech=True, hooli=True))
    async with http.post(reload, headers=auth("admin-token")) as r:
        body = await r.json()
        assert r.status == 200 and (body["version"], body["changed"]) == (3, True)
        assert body["changes"]["tenants"]["added"] == ["hooli"]
    async with http.post(reload, headers=auth("admin-token")) as r:
        assert (await r.json())["changed"] is False  # the same file again: no new version

    # Two applies at the same moment: never both silently; each winner got its own version.
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text(config_text(initech=True, hooli=True, revoke=True))
    two.write_text(config_text(initech=True))
    results = await asyncio.gather(
        tierline(env, "config", "apply", str(one)), tierline(env, "config", "apply", str(two))
    )
    won = [out for code, out, _ in results if code == 0]
    lost = [err for code, _, err in results if code != 0]
    assert won and all("the configuration changed since version" in e for e in lost)
    assert sorted(v for out in won for v in (4, 5) if f"applied as config version {v} " in out) == [4, 5][: len(won)]
    final = 3 + len(won)
    await eventually(lambda: _all_on(http, url, final), why=log)

    # Every version is on the ledger (GET /v1/config), who applied it and how, and no key or token hash anywhere.
    async def recorded():
        async with http.get(f"{url}/v1/config", headers=auth("admin-token")) as r:
            body = await r.json()
        return body if len(body["history"]) == final else None

    body = await eventually(recorded, why=log)
    assert (body["version"], [h["version"] for h in body["history"]]) == (final, list(range(final, 0, -1)))
    assert [h["via"] for h in body["history"]][-3:] == ["api", "sighup", "seed"]
    assert body["history"][-3]["applied_by"] == "admin"
    assert not any(secret in str(body) for secret in SECRETS)
    async with http.get(f"{url}/v1/config", headers=auth("globex-viewer-token")) as r:
        assert r.status == 403


async def _all_on(http, url: str, version: int) -> bool:
    return set((await versions(http, url)).values()) == {version}


def test_the_e2e_config_texts_are_valid():
    from libs.config.apply import check_text

    for kwargs in ({"initech": True}, {"initech": True, "revoke": True}, {"initech": True, "hooli": True}):
        assert check_text(config_text(**kwargs), "x").config is not None, kwargs  # type: ignore[arg-type]
    assert {p.where for p in check_text(config_text(bad=True), "x").errors} == {
        "tenants.0.contract.sla.P1.respond", "tenants.1.code",
    }  # fmt: skip
    assert Path(TEST_CONFIG).exists()
