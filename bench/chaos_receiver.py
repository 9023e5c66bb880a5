"""The chaos suite's webhook target: answers 200 to every delivery and remembers each one, de-duplicating nothing,
so a notification sent twice is counted twice.

It runs in a process of its own (`python -m bench.chaos_receiver PORT_FILE RECEIPTS`), as a tenant's ticketing
system would: inside the harness, which also sends the alerts, it answered late on a busy machine and Tierline's
sender, timing out, sent those deliveries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from libs.localstack import die_with_parent


@dataclass(frozen=True)
class Receipt:
    target: str  # the receiver's path: one per tenant's target
    delivery: str  # Tierline-Delivery: the notification's id, the same on each retry of it
    trigger: str
    incident: str
    event: str  # the id of the event that caused it


class Receiver:
    """The receiver process, seen from the harness: its port, and every receipt so far."""

    def __init__(self, run_dir: Path) -> None:
        self.port_file, self.file = run_dir / "receiver.port", run_dir / "receipts.jsonl"
        self.port = 0

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.chaos_receiver", str(self.port_file), str(self.file),
            preexec_fn=lambda: die_with_parent(signal.SIGKILL),
        )  # fmt: skip

        async def stop() -> None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            await proc.wait()

        stack.push_async_callback(stop)
        for _ in range(300):
            with contextlib.suppress(OSError, ValueError):
                self.port = int(self.port_file.read_text())
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the webhook receiver did not start")

    @property
    def receipts(self) -> list[Receipt]:
        if not self.file.exists():
            return []
        return [Receipt(**json.loads(line)) for line in self.file.read_text().splitlines() if line.strip()]


async def serve(port_file: Path, out: Path) -> None:
    sink = out.open("a", buffering=1)  # a line each, written before the answer

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        receipt = Receipt(request.path, request.headers.get("Tierline-Delivery", ""), body.get("trigger", ""),
                          str(body.get("incident", {}).get("id")), str(body.get("event", {}).get("id")))  # fmt: skip
        sink.write(json.dumps(receipt.__dict__) + "\n")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_file.write_text(str(site._server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), Path(sys.argv[2])))
