"""`tierline up` as a user runs it: one base URL, the whole stack behind it, Ctrl-C stops it cleanly, and a
second start on the same data directory still has the incidents of the first."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import TEST_CONFIG, auth, eventually

pytestmark = pytest.mark.slow


def up_env(tmp_path: Path, config: Path) -> dict[str, str]:
    """A user's environment: no TIERLINE_* from the test run, so `tierline up` starts its own servers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERLINE_")}
    return env | {
        "TIERLINE_CONFIG": str(config),
        "TIERLINE_DATA_DIR": str(tmp_path / "data"),
        "TIERLINE_HTTP_PORT": "0",
        "TIERLINE_LOG_LEVEL": "warning",
    }


async def tierline_up(env: dict[str, str], log: Path) -> tuple[asyncio.subprocess.Process, str]:
    """Start `tierline up`; its log goes to `log` so a failure can show why."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        "up",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("ab"),
        start_new_session=True,
    )
    assert proc.stdout
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, f"tierline up exited before printing its URL:\n{log.read_text()[-3000:]}"
        if m := re.search(r"http://127\.0\.0\.1:\d+", line):
            return proc, m.group(0)


async def stop(proc: asyncio.subprocess.Process) -> str:
    with contextlib.suppress(ProcessLookupError):  # it may have died already; the test says why
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode()


async def ready(http, url) -> bool:
    try:
        async with http.get(f"{url}/readyz") as r:
            return r.status == 200
    except Exception:
        return False


def service_pids(parent: int, name: str) -> list[int]:
    pids = []
    for child in psutil.Process(parent).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and child.cmdline()[-2:] == ["serve", name]:
                pids.append(child.pid)
        except psutil.Error:
            pass
    return pids


async def restarted(parent: int, name: str, old_pid: int) -> bool:
    return any(pid != old_pid for pid in service_pids(parent, name))


async def incidents(http, url) -> list[dict]:
    async with http.get(f"{url}/v1/incidents", headers=auth("admin-token")) as r:
        return (await r.json())["items"] if r.status == 200 else []


async def test_up_serves_one_url_and_keeps_data_across_restarts(tmp_path, http):
    env = up_env(tmp_path, TEST_CONFIG)
    proc, url = await tierline_up(env, tmp_path / "up.log")
    try:
        await eventually(lambda: ready(http, url), timeout=90, interval=0.2, why=tmp_path / "up.log")
        async with http.get(f"{url}/readyz") as r:
            assert set((await r.json())["services"]) == {
                "intake",
                "triage",
                "escalation",
                "change",
                "reporting",
                "console",
            }
        body = {"summary": "ERP database down", "severity": "critical", "service": "erp-db"}
        async with http.post(f"{url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": "acme-key"}) as r:
            assert r.status == 202
        [incident] = await eventually(lambda: incidents(http, url), timeout=10)
        assert incident["number"] == "ACME-1"
        async with http.get(f"{url}/services/triage/metrics") as r:
            assert r.status == 200 and "tierline_messages_handled_total" in await r.text()
        async with http.get(f"{url}/v1/nothing-here") as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
        # A second `tierline up` on the same data directory refuses plainly and starts nothing.
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services", "up", env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 1 and "another `tierline up` is using" in err.decode()
        # A crashed service is restarted by the supervisor, and the stack is ready again.
        [triage] = service_pids(proc.pid, "triage")
        os.kill(triage, signal.SIGKILL)
        await eventually(lambda: restarted(proc.pid, "triage", triage), timeout=30)
        await eventually(lambda: ready(http, url), timeout=60, interval=0.2)
    finally:
        out = await stop(proc)
    assert proc.returncode == 0 and "Tierline stopped." in out

    proc, url = await tierline_up(env, tmp_path / "up.log")  # same data directory
    try:
        await eventually(lambda: ready(http, url), timeout=90, interval=0.2, why=tmp_path / "up.log")
        assert [i["number"] for i in await incidents(http, url)] == ["ACME-1"]
    finally:
        await stop(proc)
    assert proc.returncode == 0
