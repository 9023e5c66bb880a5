"""A provider-wide fault on the running stack: one upstream alert in several tenants is a provider incident
with one child incident per tenant, each with its own tenant's number, priority, clocks and visibility."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.triage.stack import act, alert, call, detail, events, incidents, processed


@pytest.fixture
async def stack(tsettings, start):
    return await start("intake", tsettings), await start("triage", tsettings)


async def upstream_outage(http, intake, key: str, city: str) -> dict[str, str]:
    """The upstream ISP's alert reaches acme (no CI) and globex (its critical CRM): one provider incident."""
    outage = {"source": "upstream-isp", "dedup_key": key, "summary": f"Upstream ISP outage {city}"}
    await alert(http, intake, "acme", severity="critical", **outage)
    await alert(http, intake, "globex", severity="critical", service="crm", **outage)
    return outage


async def test_each_child_runs_its_own_tenants_sla_clocks(stack, start, http, tsettings):
    intake, _ = stack
    esc = await start("escalation", tsettings)
    await upstream_outage(http, intake, "isp-ams", "Amsterdam")

    async def clocks(number: str, token: str):
        status, body = await call(http, "GET", f"{esc.url}/v1/sla/incidents/{number}", token)
        return body if status == 200 and len(body["clocks"]) == 2 else None

    # Each child's clocks belong to its own tenant, at its own priority (no CI at acme; globex's critical CRM).
    acme = await eventually(lambda: clocks("ACME-1", "acme-viewer-token"))
    globex = await eventually(lambda: clocks("GLOBEX-1", "globex-viewer-token"))
    assert {(c["tenant"], c["priority"]) for c in acme["clocks"]} == {("acme", "P2")}
    assert {(c["tenant"], c["priority"]) for c in globex["clocks"]} == {("globex", "P1")}
    # Each tenant's client sees its own child's clocks only.
    status, _ = await call(http, "GET", f"{esc.url}/v1/sla/incidents/GLOBEX-1", "acme-viewer-token")
    assert status == 404


async def test_provider_incident_links_a_child_per_tenant(stack, http, tsettings):
    intake, triage = stack
    outage = await upstream_outage(http, intake, "isp-fra-1", "Frankfurt")
    await alert(http, intake, "acme", severity="critical", dedup_key="own", service="erp-db")  # not provider-wide
    items = {i["number"]: i for i in await processed(http, triage, 3)}
    parent = items["ACME-1"]["parent_id"]
    assert parent and items["GLOBEX-1"]["parent_id"] == parent and items["ACME-2"]["parent_id"] is None
    assert (items["GLOBEX-1"]["priority"], items["ACME-1"]["priority"]) == ("P1", "P2")  # each its own CI

    # Each child raised its own incident.opened under its own tenant: its own SLA clocks start from it.
    opened = {e.data["number"]: (e.tenant, e.data["parent_id"]) for e in await events(tsettings)
              if e.short_type == "incident.opened"}  # fmt: skip
    assert opened == {"ACME-1": ("acme", parent), "GLOBEX-1": ("globex", parent), "ACME-2": ("acme", None)}

    status, body = await call(http, "GET", f"{triage.url}/v1/provider-incidents/{parent}")
    assert status == 200 and body["number"] == "PRV-1" and body["state"] == "open"
    assert sorted(c["number"] for c in body["children"]) == ["ACME-1", "GLOBEX-1"]
    # A provider admin limited to globex sees only globex's child; client tokens see no provider incident.
    status, body = await call(http, "GET", f"{triage.url}/v1/provider-incidents/{parent}", "globex-admin-token")
    assert status == 200 and [c["number"] for c in body["children"]] == ["GLOBEX-1"]
    for token in ("acme-viewer-token", "globex-viewer-token"):
        status, body = await call(http, "GET", f"{triage.url}/v1/provider-incidents/{parent}", token)
        assert status == 404 and body["error"]["code"] == "not_found"
    assert [i["number"] for i in await incidents(http, triage, "globex-viewer-token")] == ["GLOBEX-1"]

    # The parent resolves when every child has.
    assert (await act(http, triage, "ACME-1", "resolve", {"resolution_code": "solved"}))[0] == 200
    assert (await call(http, "GET", f"{triage.url}/v1/provider-incidents/{parent}"))[1]["state"] == "open"
    assert (await act(http, triage, "GLOBEX-1", "resolve", {"resolution_code": "workaround"}))[0] == 200
    status, body = await call(http, "GET", f"{triage.url}/v1/provider-incidents/PRV-1")
    assert body["state"] == "resolved" and body["resolved_at"]

    # The next hit of the same upstream fault is a new provider incident.
    await alert(http, intake, "globex", severity="critical", service="crm", **outage)
    items = await processed(http, triage, 4)
    assert items[0]["number"] == "GLOBEX-2" and items[0]["parent_id"] not in (None, parent)


async def test_a_reopened_child_reopens_its_provider_incident(stack, http):
    intake, triage = stack
    outage = await upstream_outage(http, intake, "isp-lon", "London")
    items = {i["number"]: i for i in await processed(http, triage, 2)}
    parent = items["ACME-1"]["parent_id"]

    async def parent_state(ref: str = parent) -> str:
        return (await call(http, "GET", f"{triage.url}/v1/provider-incidents/{ref}"))[1]["state"]

    for child in ("ACME-1", "GLOBEX-1"):
        assert (await act(http, triage, child, "resolve", {"resolution_code": "solved"}))[0] == 200
    assert await parent_state() == "resolved"

    # The fault re-fires at acme inside its 1 h reopen window: the child reopens, and so does the parent.
    await alert(http, intake, "acme", severity="critical", **outage)

    async def acme_reopened() -> bool:
        return (await detail(http, triage, "ACME-1"))["reopen_count"] == 1

    await eventually(acme_reopened)
    assert await parent_state() == "open"
    assert (await act(http, triage, "ACME-1", "resolve", {"resolution_code": "solved"}))[0] == 200
    assert await parent_state() == "resolved"

    # Reopened by hand, the same.
    assert (await act(http, triage, "GLOBEX-1", "reopen", {"reason": "still down for the CRM users"}))[0] == 200
    assert await parent_state() == "open"
    assert (await act(http, triage, "GLOBEX-1", "resolve", {"resolution_code": "solved"}))[0] == 200

    # Once a newer provider incident holds the fault (globex re-fires outside its 0 s reopen window), a
    # reopened old child leaves the old parent resolved: never two open for one upstream fault.
    await alert(http, intake, "globex", severity="critical", service="crm", **outage)
    newer = (await processed(http, triage, 3))[0]
    assert newer["number"] == "GLOBEX-2" and newer["parent_id"] != parent
    assert (await act(http, triage, "ACME-1", "reopen", {"reason": "users report it again"}))[0] == 200
    assert (await parent_state(), await parent_state(newer["parent_id"])) == ("resolved", "open")


async def test_acting_on_a_provider_incident_acts_on_each_child_by_its_own_lifecycle(stack, start, http, tsettings):
    intake, triage = stack
    esc = await start("escalation", tsettings)
    await upstream_outage(http, intake, "isp-par", "Paris")
    parent = (await processed(http, triage, 2))[0]["parent_id"]
    base = f"{triage.url}/v1/provider-incidents/{parent}"

    status, body = await call(http, "POST", f"{base}/acknowledge", "eng-token")
    assert status == 200 and body["provider_incident"]["number"] == "PRV-1"
    assert body["results"] == [{"number": "ACME-1", "status": "done", "state": "acknowledged"},
                               {"number": "GLOBEX-1", "status": "done", "state": "acknowledged"}]  # fmt: skip
    assert [c["state"] for c in body["provider_incident"]["children"]] == ["acknowledged", "acknowledged"]
    acks = {e.data["number"]: (e.tenant, e.data["by"]) for e in await events(tsettings)
            if e.short_type == "incident.acknowledged"}  # fmt: skip
    assert acks == {"ACME-1": ("acme", "eve"), "GLOBEX-1": ("globex", "eve")}  # each under its own tenant

    async def response_stopped(number: str, token: str):
        status, got = await call(http, "GET", f"{esc.url}/v1/sla/incidents/{number}", token)
        clocks = {c["clock"]: c["state"] for c in got.get("clocks", [])} if status == 200 else {}
        return clocks.get("response") == "stopped"

    await eventually(lambda: response_stopped("ACME-1", "acme-viewer-token"))  # each child's own clocks
    await eventually(lambda: response_stopped("GLOBEX-1", "globex-viewer-token"))

    # A second acknowledge is refused child by child, and changes nothing.
    status, body = await call(http, "POST", f"{base}/acknowledge", "eng-token")
    assert status == 200 and [(r["number"], r["status"], r["error"]["code"]) for r in body["results"]] == [
        ("ACME-1", "refused", "illegal_transition"), ("GLOBEX-1", "refused", "illegal_transition"),
    ]  # fmt: skip
    # One child already resolved by hand: the parent's resolve resolves the other, and then the parent.
    assert (await act(http, triage, "GLOBEX-1", "resolve"))[0] == 200
    status, body = await call(
        http, "POST", f"{base}/resolve", "eng-token", {"resolution_code": "workaround", "note": "ISP fixed its router"}
    )
    assert [(r["number"], r["status"]) for r in body["results"]] == [("ACME-1", "done"), ("GLOBEX-1", "refused")]
    assert body["provider_incident"]["state"] == "resolved"
    acme = await detail(http, triage, "ACME-1")
    assert (acme["state"], acme["resolution_code"], acme["timeline"][-1]["detail"]["note"]) == (
        "resolved", "workaround", "ISP fixed its router",
    )  # fmt: skip
    assert (await detail(http, triage, "GLOBEX-1"))["resolution_code"] == "solved"  # its own resolve stands

    # A token limited to globex notes only globex's child; clients get 404; bad input changes nothing.
    status, body = await call(http, "POST", f"{base}/notes", "globex-admin-token", {"text": "post-mortem Friday"})
    assert (status, [r["number"] for r in body["results"]]) == (200, ["GLOBEX-1"])
    assert [c["number"] for c in body["provider_incident"]["children"]] == ["GLOBEX-1"]
    assert (await detail(http, triage, "GLOBEX-1"))["timeline"][-1]["kind"] == "note"
    assert (await detail(http, triage, "ACME-1"))["timeline"][-1]["kind"] == "resolved"
    for token in ("acme-viewer-token", "globex-viewer-token"):
        status, body = await call(http, "POST", f"{base}/notes", token, {"text": "hi"})
        assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await call(http, "POST", f"{base}/notes", "eng-token", {"text": ""})
    assert (status, body["error"]["code"]) == (422, "validation_failed")
    assert (await call(http, "POST", f"{triage.url}/v1/provider-incidents/PRV-99/acknowledge"))[0] == 404
