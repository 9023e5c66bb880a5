"""The README's "Try it" commands, run as written against `tierline up` with the shipped demo config."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import eventually
from tests.e2e.test_stack import ready, stop, tierline_up, up_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Bearer demo-engineer-token"
SIGNALS = "Heartbeats, backups and compliance controls"  # a README heading, its ```sh block run below


def sh_block(heading: str) -> str:
    """The first ```sh block under a README heading."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


async def run(script: str, url: str) -> list[dict]:
    """Run the commands one by one, pausing so each step's events have flowed (as a person typing would)."""
    script = script.replace("http://127.0.0.1:7480", url).replace("\n# ", "\nsleep 1\n# ")
    shell = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(shell.communicate(), 60)
    assert shell.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().replace("}{", "}\n{").splitlines() if line.strip()]


async def run_tools(script: str, url: str, cwd: Path, env: dict[str, str]) -> bytes:
    """Run a block that calls `.venv/bin/tierline` beside the stack (found by the data directory in `env`): its
    output, once it succeeded."""
    script = script.replace("http://127.0.0.1:7480", url)
    script = script.replace(".venv/bin/tierline", str(Path(sys.executable).parent / "tierline"))
    shell = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(shell.communicate(), 120)
    assert shell.returncode == 0, err.decode()
    return out


async def test_readme_examples_run(tmp_path, http):
    env = up_env(tmp_path, ROOT / "tierline.yaml")
    proc, url = await tierline_up(env, tmp_path / "up.log")
    try:
        await eventually(lambda: ready(http, url), timeout=90, interval=0.2, why=tmp_path / "up.log")
        started = datetime.now(UTC)
        outputs = await run(sh_block("Try it"), url)
        assert outputs[0]["status"] == "accepted" and outputs[0]["dedup_key"] == "erp-db-down"
        [incident] = outputs[1]["items"]
        assert (incident["number"], incident["priority"], incident["tier"]) == ("ACME-1", "P1", 1)
        assert {c["clock"] for c in outputs[3]["clocks"]} == {"response", "resolution"}
        assert outputs[4]["state"] == "acknowledged"
        report = outputs[-1]
        assert report["tenant"] == "acme" and report["incidents"] == 1

        trigger, ack, resolve, firing, resolved = await run(sh_block("Connect your monitoring tools"), url)
        assert trigger == {"status": "success", "message": "Event processed", "dedup_key": "erp-db-lag"}
        assert ack["status"] == resolve["status"] == "success"
        assert [a["status"] for a in firing["alerts"] + resolved["alerts"]] == ["firing"] * 2 + ["resolved"] * 2

        async def incidents():
            async with http.get(f"{url}/v1/incidents?tenant=acme", headers={"Authorization": TOKEN}) as r:
                found = {i["dedup_key"]: i for i in (await r.json())["items"]}
            return len(found) == 4 and all(i["state"] == "resolved" for i in found.values()) and found

        found = await eventually(incidents, timeout=15)  # the examples resolve everything they open
        nodes = [found[k] for k in ("c0ffee0000000001", "c0ffee0000000002")]
        since = started.replace(microsecond=0)  # the examples' startsAt is the time they ran, to the second
        assert all(since <= datetime.fromisoformat(i["detected_at"]) <= datetime.fromisoformat(i["opened_at"])
                   for i in nodes)  # fmt: skip

        # "Service reports": CSV, the monthly HTML, and `tierline reporting rebuild` beside the running stack
        # (it finds the stack by its data directory), which changes no figure.
        # A fixed end, as the month is still running: availability is measured to `to` (or now, if earlier).
        now = datetime.now(UTC)
        period = {"from": now.strftime("%Y-%m-01T00:00:00Z"), "to": now.strftime("%Y-%m-%dT%H:%M:%SZ")}

        async def report():
            async with http.get(f"{url}/v1/reports/acme", params=period, headers={"Authorization": TOKEN}) as r:
                body = await r.json()
            return {k: v for k, v in body.items() if k != "generated_at"}

        async def settled():  # every example's clocks stopped: escalation has caught up with the resolves
            body = await report()
            clocks = [body[c]["met"] + body[c]["breached"] for c in ("response_sla", "resolution_sla")]
            return body if clocks == [4, 4] else None

        before = await eventually(settled, timeout=15)
        out = await run_tools(sh_block("Service reports"), url, tmp_path, env)
        assert out.decode().startswith("figure,value\ntenant,acme") and b"events replayed" in out
        assert (tmp_path / f"acme-{now:%Y-%m}.html").read_text().count("<svg") == 5
        clients = (tmp_path / "clients.html").read_text()
        assert "Acme Manufacturing" in clients and "Initech GmbH" in clients and "</table>" in clients
        assert await report() == before
        # The first report a new user reads shows no outage left open by the examples: all were resolved.
        assert len(before["incident_list"]) == 4 and all(i["resolved_at"] for i in before["incident_list"])
        erp = next(s for s in before["availability"]["services"] if s["ci"] == "erp-db")
        assert erp["downtime_minutes"] * 60 < (datetime.now(UTC) - started).total_seconds()

        # "Alerts and requests by e-mail": curl into the SMTP listener whose address the banner printed.
        smtp = await printed(proc, r"mail: (smtp://127\.0\.0\.1:\d+)")
        [listed] = await run(sh_block("Alerts and requests by e-mail").replace("smtp://127.0.0.1:2525", smtp), url)

        async def requested():  # the block lists at once; on a loaded machine triage may not have opened it yet
            if listed["items"]:
                return listed
            async with http.get(f"{url}/v1/incidents?tenant=acme&type=request", headers={"Authorization": TOKEN}) as r:
                body = await r.json()
            return body["items"] and body

        requests = await eventually(requested, timeout=15)
        assert [(i["title"], i["type"], i["channel"]) for i in requests["items"]] == [
            ("Laptop for a new starter", "request", "email"),
        ]  # fmt: skip

        async def mailed():
            async with http.get(f"{url}/v1/incidents?tenant=acme", headers={"Authorization": TOKEN}) as r:
                found = {i["dedup_key"]: i for i in (await r.json())["items"]}
            thread = found.get("mail-thread:<job-4711@backup.acme.example>", {})
            return thread.get("state") == "resolved" and thread

        thread = await eventually(mailed, timeout=15)
        title = "FAILED: [erp-db] nightly backup"
        assert (thread["priority"], thread["ci"], thread["title"]) == ("P1", "erp-db", title)

        # "Heartbeats, backups and compliance controls": two beats, a restore test, three control results, read back.
        beat, backup, restore, *results, beats, figures = await run(sh_block(SIGNALS), url)
        assert (beat["heartbeat"], backup["heartbeat"], backup["result"]) == ("acme-prometheus", "nightly-backup",
                                                                             "success")  # fmt: skip
        assert restore["test_id"] and [r["ci"] for r in results] == ["erp-db", "m365", "m365"]
        assert {h["name"] for h in beats["items"]} == {"acme-prometheus", "nightly-backup"}
        assert set(figures) == {"data_protection", "compliance_controls"}

        async def measured():  # the ledger has them all: a good backup, a restore within RTO, 2 of 3 covered
            async with http.get(f"{url}/v1/reports/acme", headers={"Authorization": TOKEN}) as r:
                body = await r.json()
            data, controls = body["data_protection"], body["compliance_controls"]
            return (data["backups"][0]["runs"], data["restores"]["rto_met"], controls["covered"],
                    controls["open_findings"]) == (1, 1, 2, 0) and body  # fmt: skip

        body = await eventually(measured, timeout=15)
        assert body["families"]["compliance"]["control_coverage_pct"] == 66.67
        assert body["data_protection"]["backups"][0]["rpo_compliance_pct"] == 100.0

        async def finding_resolved():
            async with http.get(f"{url}/v1/incidents?tenant=acme", headers={"Authorization": TOKEN}) as r:
                items = (await r.json())["items"]
            return [i["state"] for i in items if i["dedup_key"] == "control:audit-logging:m365"] == ["resolved"]

        await eventually(finding_resolved, timeout=15)
        async with http.get(f"{url}/v1/heartbeats?tenant=acme", headers={"Authorization": TOKEN}) as r:
            assert {h["name"]: h["status"] for h in (await r.json())["items"]} == {
                "acme-prometheus": "ok", "nightly-backup": "ok"
            }  # fmt: skip

        # "Configuration changes without a restart": the shipped file is the version in force, so nothing changes.
        script = sh_block("Configuration changes without a restart").replace(" tierline.yaml", f" {ROOT}/tierline.yaml")
        out = await run_tools(script, url, tmp_path, env)
        text, _, answers = out.decode().partition("\n{")
        assert "unchanged; config version 1 is this file already" in text
        current, reloaded = (json.loads(line) for line in ("{" + answers).replace("}{", "}\n{").splitlines())
        assert (current["version"], current["via"], [h["version"] for h in current["history"]]) == (1, "seed", [1])
        assert reloaded == {"version": 1, "changed": False, "changes": {}, "warnings": []}

        # "On call": who is on call now, this week's shifts, and an override that puts nina on and comes off.
        schedules, now, week, covered, removed = await run(sh_block("On call"), url)
        assert [(s["id"], s["tenant"]) for s in schedules["items"]] == [("noc", None), ("tier2", None)]
        assert now["on_call"]["user"] in {"ann", "sam", "max"} and now["on_call"]["layer"] in {"weekdays", "weekend"}
        assert week["shifts"] and {s["user"] for s in week["shifts"]} <= {"ann", "sam", "max"}
        assert (covered["on_call"]["user"], covered["on_call"]["layer"]) == ("nina", None)
        assert removed["removed"]["id"] == covered["on_call"]["override_id"]
    finally:
        await stop(proc)


async def printed(proc: asyncio.subprocess.Process, pattern: str) -> str:
    """The first group of the first line `tierline up` printed (after its base URL) that matches `pattern`."""
    assert proc.stdout
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, "tierline up stopped printing before the line wanted"
        if m := re.search(pattern, line):
            return m.group(1)
