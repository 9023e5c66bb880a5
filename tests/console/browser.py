"""Helpers for the browser tests: sign in a page, post alerts and changes through the real APIs, and save a
screenshot of what the page shows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.console.conftest import OUTPUT, Stack

SENT = itertools.count()


async def signed_in(browser, stack: Stack, token: str, *, width: int = 1440, height: int = 900):
    """A fresh browser context signed in with `token`, its page on the queue, and the dialogs it saw."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    dialogs: list[str] = []

    async def on_dialog(dialog) -> None:  # an alert() from injected text would land here
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    await page.goto(f"{stack.url}/console/login")
    await page.fill("#token", token)
    await page.click("button.primary")
    await page.wait_for_url("**/console/queue")
    return context, page, dialogs


async def shot(page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


async def alertmanager(stack: Stack, summary: str, *, severity: str = "warning", service: str = "erp-db") -> str:
    """One Alertmanager v4 notification with one firing alert, as Alertmanager POSTs it; returns its fingerprint."""
    n = next(SENT)
    fingerprint = f"c0ns01e{n:09d}"
    alert = {
        "status": "firing",
        "labels": {"alertname": "ReplicationLag", "instance": f"erp-db-0{n}", "severity": severity, "service": service},
        "annotations": {"summary": summary},
        "startsAt": datetime.now(UTC).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint,
    }
    body = {
        "version": "4", "groupKey": f"{{}}:{{alertname=\"ReplicationLag{n}\"}}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "tierline", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "alerts": [alert],
    }  # fmt: skip
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{stack.api('intake')}/v1/webhooks/alertmanager", json=body, headers={"Authorization": "Bearer acme-key"}
        ) as r:
            assert r.status == 202, await r.text()
    return fingerprint


async def generic(stack: Stack, tenant_key: str, summary: str, **extra: Any) -> None:
    body = {"summary": summary, "severity": "warning", "dedup_key": f"console-{next(SENT)}", **extra}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{stack.api('intake')}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": tenant_key}
        ) as r:
            assert r.status == 202, await r.text()


async def api(stack: Stack, service: str, method: str, path: str, token: str, body: Any = None) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method, f"{stack.api(service)}{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            data = await r.json()
            assert r.status < 300, data
            return data


async def change_in_vote(stack: Stack, title: str, *, start_in: timedelta = timedelta(days=1)) -> dict:
    """A normal change alice raised, submitted and assessed: it waits for the CAB's votes."""
    start = (datetime.now(UTC) + start_in).replace(minute=0, second=0, microsecond=0)
    body = {
        "tenant": "acme", "change_type": "normal", "cis": ["erp-db"], "title": title,
        "planned_start": start.isoformat(), "planned_end": (start + timedelta(hours=2)).isoformat(),
        "implementer": "eve", "rollback_plan": "restore the snapshot",
    }  # fmt: skip
    change = await api(stack, "change", "POST", "/v1/changes", "alice-token", body)
    await api(stack, "change", "POST", f"/v1/changes/{change['number']}/submit", "alice-token", {})
    return await api(
        stack, "change", "POST", f"/v1/changes/{change['number']}/assess", "alice-token",
        {"risk": "low", "impact": "low"},
    )  # fmt: skip


async def incident_titled(stack: Stack, tenant: str, title: str) -> dict:
    """The incident with this title once triage has it (intake answered 202; triage commits a moment later)."""
    from tests.conftest import eventually

    async def found() -> dict | None:
        items = (await api(stack, "triage", "GET", f"/v1/incidents?tenant={tenant}", "admin-token"))["items"]
        return next((i for i in items if i["title"] == title), None)

    return await eventually(found)
