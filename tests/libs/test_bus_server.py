"""Tierline refuses a nats-server older than 2.10 with one clear line: such a server ignores filter_subjects."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from nats.aio.client import ServerVersion

from libs.bus import check_server_version, connect_bus
from libs.localstack import free_port, wait_for_port


@pytest.mark.parametrize(("version", "refused"), [("2.9.10", True), ("2.10.0", False), ("2.15.1", False)])
def test_old_servers_are_refused(version, refused):
    if refused:
        with pytest.raises(RuntimeError, match=rf"needs nats-server 2\.10 or newer.*runs {version}"):
            check_server_version(ServerVersion(version), "nats://old:4222")
    else:
        check_server_version(ServerVersion(version), "nats://new:4222")


def an_old_nats_server() -> str | None:
    """A nats-server binary older than 2.10 on this machine (Debian's), if there is one."""
    for candidate in ("/usr/sbin/nats-server", "/usr/bin/nats-server", shutil.which("nats-server")):
        if candidate and Path(candidate).exists():
            out = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout
            version = out.strip().rsplit("v", 1)[-1]
            if tuple(int(p) for p in version.split(".")[:2]) < (2, 10):
                return candidate
    return None


async def test_connect_bus_refuses_a_real_old_server(settings, tmp_path):
    binary = an_old_nats_server()
    if binary is None:
        pytest.skip("no nats-server older than 2.10 on this machine to try against")
    port = free_port()
    log_file = tmp_path / "nats.log"
    proc = await asyncio.create_subprocess_exec(
        binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp_path), "-l", str(log_file),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_for_port(port, proc, "the old nats-server", log_file)
        old = settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{port}"})
        with pytest.raises(RuntimeError, match=r"needs nats-server 2\.10 or newer"):
            await connect_bus(old, name="test")
    finally:
        proc.terminate()
        await proc.wait()
