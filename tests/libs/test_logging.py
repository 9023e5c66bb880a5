"""Log records leave a process as one JSON line each, written at once; library records and tracebacks too."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap

from libs.localstack import free_port

SCRIPT = textwrap.dedent(
    """
    import io, json, logging, sys, warnings
    import structlog
    from libs.logging import configure_logging

    class Counting(io.TextIOBase):
        writes = 0
        def write(self, s):
            Counting.writes += 1
            sys.__stderr__.write(s)
            return len(s)
        def isatty(self):
            return False

    configure_logging("probe", fmt="json", stream=Counting())
    structlog.get_logger().info("probe.started", n=1)
    try:
        raise ConnectionResetError("reset by peer")
    except ConnectionResetError:
        logging.getLogger("asyncpg.pool").warning("connection lost", exc_info=True)
    warnings.warn("a library warning")
    print(Counting.writes, file=sys.__stdout__)
    raise RuntimeError("nobody caught this")
    """
)


def records(stderr: bytes) -> list[dict]:
    lines = stderr.decode().splitlines()
    assert lines, "no output"
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not one JSON object per line: {line!r}\n---\n{stderr.decode()}") from None
    return out


async def test_every_record_is_one_json_line_written_at_once():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    found = records(err)
    assert [r["event"] for r in found[:3]] == ["probe.started", "connection lost", found[2]["event"]]
    assert "a library warning" in found[2]["event"]
    assert int(out) == 3  # three records so far, three writes: never the line and its newline apart
    lost = found[1]
    assert lost["logger"] == "asyncpg.pool" and lost["level"] == "warning" and lost["service"] == "probe"
    assert "ConnectionResetError: reset by peer" in lost["exception"]  # the traceback inside the JSON
    assert found[-1]["event"] == "process.uncaught_exception" and "nobody caught this" in found[-1]["exception"]
    assert proc.returncode == 1


async def test_a_service_that_cannot_reach_postgres_says_so_in_json(settings):
    env = {
        **os.environ,
        "TIERLINE_NATS_URL": settings.nats_url,
        "TIERLINE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
        "TIERLINE_CONFIG": str(settings.config),
        "TIERLINE_BUS_PREFIX": settings.bus_prefix,
        "TIERLINE_SERVICE_PORT": "0",
        "TIERLINE_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services", "serve", "triage", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    found = records(err)
    assert proc.returncode != 0
    assert any("ConnectionRefusedError" in r.get("exception", "") for r in found), found
