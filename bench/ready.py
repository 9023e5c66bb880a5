"""Shared by the benchmarks: wait until the services they started answer /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import aiohttp


async def wait_ready(http: aiohttp.ClientSession, ports: Iterable[int], *, attempts: int = 300) -> None:
    for port in ports:
        for _ in range(attempts):
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
