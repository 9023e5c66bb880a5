"""Reporting's API edges: tenant walls, query validation, authentication, the default period."""

from __future__ import annotations

from datetime import UTC, datetime

from services.reporting.domain.period import calendar_month
from tests.conftest import auth


async def call(http, url, token=None, **params):
    async with http.get(url, params=params, headers=auth(token) if token else {}) as r:
        return r.status, await r.json()


async def test_tenants_are_walls(settings, start, http):
    svc = await start("reporting", settings)
    for path in ("reports", "ledger"):
        assert (await call(http, f"{svc.url}/v1/{path}/acme", "acme-viewer-token"))[0] == 200
        assert (await call(http, f"{svc.url}/v1/{path}/globex", "admin-token"))[0] == 200
        assert (await call(http, f"{svc.url}/v1/{path}/acme", "admin-token"))[0] == 200
        status, hidden = await call(http, f"{svc.url}/v1/{path}/globex", "acme-viewer-token")
        status2, unknown = await call(http, f"{svc.url}/v1/{path}/initech", "admin-token")
        assert (status, status2) == (404, 404)
        assert hidden["error"]["code"] == unknown["error"]["code"] == "not_found"
        assert (await call(http, f"{svc.url}/v1/{path}/acme", "globex-viewer-token"))[0] == 404
    # A hidden tenant is 404 even with a bad query: nothing about it leaks through validation.
    assert (await call(http, f"{svc.url}/v1/reports/globex", "acme-viewer-token", **{"from": "x"}))[0] == 404


async def test_bad_queries_are_400_with_field_details(settings, start, http):
    svc = await start("reporting", settings)
    url = f"{svc.url}/v1/reports/acme"
    status, body = await call(http, url, "admin-token", **{"from": "last tuesday", "to": "2024-02-30"})
    assert status == 400
    assert body["error"]["code"] == "invalid_query" and body["error"]["message"]
    assert [d["field"] for d in body["error"]["details"]] == ["from", "to"]
    status, body = await call(http, url, "admin-token", **{"from": "2024-04-01", "to": "2024-03-01"})
    assert status == 400
    assert body["error"]["details"] == [{"field": "to", "message": "must be after from"}]
    status, body = await call(http, f"{svc.url}/v1/ledger/acme", "admin-token", limit="0")
    assert (status, body["error"]["details"][0]["field"]) == (400, "limit")
    # A misspelt parameter is refused, not ignored (it would silently report the whole month).
    status, body = await call(http, url, "admin-token", form="2024-03-01")
    assert (status, [d["field"] for d in body["error"]["details"]]) == (400, ["form"])


async def test_unauthenticated_is_401(settings, start, http):
    svc = await start("reporting", settings)
    for token in (None, "no-such-token"):
        status, body = await call(http, f"{svc.url}/v1/reports/acme", token)
        assert (status, body["error"]["code"]) == (401, "unauthenticated")
        assert (await call(http, f"{svc.url}/v1/ledger/acme", token))[0] == 401


async def test_default_period_is_the_current_utc_month(settings, start, http):
    svc = await start("reporting", settings)
    month = calendar_month(datetime.now(UTC))
    status, body = await call(http, f"{svc.url}/v1/reports/acme", "acme-viewer-token")
    assert status == 200
    assert body["period"] == {"from": month.start.isoformat(), "to": month.end.isoformat()}
    assert (body["incidents"], body["ledger_events"], body["breaches"]) == (0, 0, [])
    assert body["mtta_seconds"] is None and body["response_sla"]["compliance_pct"] is None
    # `+` in an offset must be percent-encoded in a URL; encoded, it parses.
    status, body = await call(
        http, f"{svc.url}/v1/reports/acme", "admin-token", **{"from": "2024-03-01T02:00:00+02:00"}
    )
    assert (status, body["period"]["from"]) == (200, "2024-03-01T00:00:00+00:00")
