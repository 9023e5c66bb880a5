"""`tierline config apply FILE` beside a running stack: store the checked file as the next version, then wait (a
few seconds at most) until every service of a local `tierline up` says it runs it, so a key added works, and one
revoked is refused, by the time the command returns."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp

from libs.bus import connect_bus
from libs.config.apply import Checked, apply, who
from libs.config.bucket import ConfigBucket, ConfigConflict
from libs.config.diff import describe
from libs.settings import Settings

SPREAD_S = 10.0


async def apply_to_stack(checked: Checked, settings: Settings) -> int:
    from libs.stackfile import running_base_url, running_stack

    try:
        stack = running_stack(settings, need=("nats_url",))
    except RuntimeError as exc:
        print(f"tierline config apply: {exc}", file=sys.stderr)
        return 1
    bus = await connect_bus(stack, name="config-apply")
    try:
        bucket = await ConfigBucket.open(bus.js, stack.bus_prefix, replicas=stack.stream_replicas)
        done = await apply(bucket, bus, checked, applied_by=who(), via="cli")
    except ConfigConflict as exc:
        print(f"tierline config apply: {exc} (another apply, at the same moment?); nothing changed from this "
              "one: check the file against the version in force and apply again", file=sys.stderr)  # fmt: skip
        return 1
    finally:
        await bus.close()
    if not done.changed:
        print(f"{checked.source}: unchanged; config version {done.version} is this file already")
        return 0
    print(f"{checked.source}: applied as config version {done.version} ({describe(done.changes)})")
    url = running_base_url(stack)
    if url is None:
        print("every service swaps to it as it sees it on the bus (GET /readyz shows each one's config_version)")
        return 0
    behind = await _spread(url, done.version)
    if behind:
        print(f"not yet on version {done.version} after {SPREAD_S:g} s: {', '.join(behind)}", file=sys.stderr)
        return 1
    print(f"every service runs config version {done.version}")
    return 0


async def _spread(url: str, version: int) -> list[str]:
    """The services of the stack at `url` not yet on `version` (none: all are), waiting up to SPREAD_S."""
    behind: list[str] = ["(the stack did not answer)"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        deadline = asyncio.get_running_loop().time() + SPREAD_S
        while asyncio.get_running_loop().time() < deadline:
            try:
                async with session.get(f"{url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    services: dict[str, Any] = (await r.json()).get("services", {})
                behind = [f"{n} ({s.get('config_version')})" for n, s in sorted(services.items())
                          if (s.get("config_version") or 0) < version]  # fmt: skip
                if not behind:
                    return []
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            await asyncio.sleep(0.05)
    return behind
