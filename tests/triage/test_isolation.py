"""Tenant walls: every incident endpoint, called with another tenant's tokens (a client token, and a
provider admin limited to that tenant), answers exactly as for an incident that does not exist, and
changes nothing."""

from __future__ import annotations

import pytest

from tests.triage.stack import act, alert, call, detail, incidents, processed

ACTIONS = {
    "acknowledge": None,
    "start": None,
    "hold": {"reason": "pending_customer"},
    "resume": None,
    "resolve": {"resolution_code": "solved"},
    "close": None,
    "reopen": {"reason": "x"},
    "assign": {"assignee": "gus"},
    "escalate": {"reason": "x"},
    "priority": {"priority": "P5", "reason": "x"},
    "notes": {"text": "peek"},
}
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def stack(tsettings, start):
    return await start("intake", tsettings), await start("triage", tsettings)


async def test_another_tenants_tokens_get_nothing(stack, http):
    intake, triage = stack
    await alert(http, intake, "acme", dedup_key="isp", source="upstream-isp", summary="ISP down")
    await alert(http, intake, "acme", dedup_key="db", service="erp-db")
    await processed(http, triage, 2)
    acme = {i["dedup_key"]: i for i in await incidents(http, triage)}
    before = {n: await detail(http, triage, n) for n in ("ACME-1", "ACME-2")}
    parent = acme["isp"]["parent_id"]

    for token in ("globex-viewer-token", "globex-admin-token"):
        assert await incidents(http, triage, token) == []
        status, body = await call(http, "GET", f"{triage.url}/v1/incidents", token, tenant="acme")
        assert (status, body["error"]["code"]) == (404, "not_found")
        status, body = await call(http, "GET", f"{triage.url}/v1/alerts/suppressed", token, tenant="acme")
        assert (status, body["error"]["code"]) == (404, "not_found")
        status, body = await call(http, "GET", f"{triage.url}/v1/provider-incidents/{parent}", token)
        assert (status, body["error"]["code"]) == (404, "not_found")
        status, body = await call(http, "POST", f"{triage.url}/v1/incidents", token, {"tenant": "acme", "title": "x"})
        assert status == (404 if token == "globex-admin-token" else 403), body
        for incident in acme.values():
            for ref in (incident["id"], incident["number"]):
                answers = [await call(http, "GET", f"{triage.url}/v1/incidents/{r}", token) for r in (ref, MISSING)]
                assert answers[0][0] == 404 and _same(*answers), answers
                for action, body in ACTIONS.items():
                    theirs = await act(http, triage, ref, action, body, token=token)
                    missing = await act(http, triage, MISSING, action, body, token=token)
                    assert theirs[0] in (403, 404) and _same(theirs, missing), (token, action, theirs, missing)
    after = {n: await detail(http, triage, n) for n in ("ACME-1", "ACME-2")}
    assert after == before


def _same(a: tuple[int, dict], b: tuple[int, dict]) -> bool:
    """The same status and error code: the message may name the reference asked for."""
    return a[0] == b[0] and a[1]["error"]["code"] == b[1]["error"]["code"]


async def test_a_scoped_admin_works_its_own_tenant(stack, http):
    intake, triage = stack
    await alert(http, intake, "globex", dedup_key="crm", service="crm")
    await alert(http, intake, "acme", dedup_key="db", service="erp-db")
    await processed(http, triage, 2)
    assert [i["number"] for i in await incidents(http, triage, "globex-admin-token")] == ["GLOBEX-1"]
    assert (await act(http, triage, "GLOBEX-1", "acknowledge", token="globex-admin-token"))[0] == 200
    status, body = await call(http, "POST", f"{triage.url}/v1/incidents", "globex-admin-token",
                              {"tenant": "globex", "title": "Phone call: CRM slow"})  # fmt: skip
    assert status == 201 and body["number"] == "GLOBEX-2"
