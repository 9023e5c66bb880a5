"""The provider overview (JSON and page), the tenant walls and bad input, and a browser's Basic sign-in."""

from __future__ import annotations

import json

import aiohttp

from tests.reporting.octo import OCTOBER, get, overview_rows


async def test_provider_overview(octo, http):
    status, _, raw = await get(http, f"{octo.url}/v1/reports", **OCTOBER)
    assert status == 200
    rows = {r["tenant"]: r for r in json.loads(raw)["tenants"]}
    assert set(rows) == {"octo", "other"}
    assert (rows["octo"]["incidents"], rows["octo"]["service_credit"], rows["octo"]["breaches"]) == (5, 3500.0, 1)
    assert rows["other"]["incidents"] == 0
    # A client token sees only its own tenant in the overview.
    _, _, raw = await get(http, f"{octo.url}/v1/reports", token="other-token", **OCTOBER)
    assert [r["tenant"] for r in json.loads(raw)["tenants"]] == ["other"]


async def test_provider_overview_page(octo, http):
    status, kind, raw = await get(http, f"{octo.url}/v1/reports", format="html", **OCTOBER)
    assert status == 200 and kind.startswith("text/html")
    page = raw.decode()
    rows = overview_rows(page)
    assert [r[0] for r in rows] == ["Octo Logistics", "Octo Logistics"]  # the second tenant copies the name
    octo_row = rows[0]
    assert octo_row[1] == "5" and octo_row[-1] == "3500 EUR" and octo_row[6] == "1"
    assert 'href="/v1/reports/octo/monthly/2026-10.html"' in page  # a whole month links to each report
    assert '<span class="bad">1</span>' in page  # the breach stands out
    assert "<script" not in page and "http" not in page.replace('href="/v1', "")  # nothing external
    # Half a month has no monthly report to link to; a client token sees only its own row.
    _, _, raw = await get(
        http, f"{octo.url}/v1/reports", format="html", token="other-token", **{"from": "2026-10-01", "to": "2026-10-15"}
    )
    assert len(overview_rows(raw.decode())) == 1 and "monthly/" not in raw.decode()
    assert (await get(http, f"{octo.url}/v1/reports", format="pdf", **OCTOBER))[0] == 400


async def test_walls_and_bad_input(octo, http):
    for path in (
        "/v1/reports/octo",
        "/v1/reports/octo/monthly/2026-10.html",
        "/v1/reports/octo/incidents/OCTO-A/sla",
        "/v1/ledger/octo",
    ):
        status, _, _ = await get(http, f"{octo.url}{path}", token="other-token")
        assert status == 404, path  # exactly as for a tenant that does not exist
        assert (await get(http, f"{octo.url}{path}", token="octo-token"))[0] == 200, path
    for path, params, want in [
        ("/v1/reports/octo/monthly/2026-13.html", {}, 404),
        ("/v1/reports/octo/incidents/OCTO-Z/sla", {}, 404),
        ("/v1/reports/octo", {"format": "xml"}, 400),
        ("/v1/reports/octo", {"trend": "99"}, 400),
        ("/v1/reports/octo", {"colour": "red"}, 400),
    ]:
        assert (await get(http, f"{octo.url}{path}", **params))[0] == want, (path, params)


async def test_a_browser_opens_the_report_with_the_token_as_its_password(octo, http):
    """No header: 401 with a Basic challenge, so a browser asks; the token as password then opens the page."""
    page = f"{octo.url}/v1/reports/octo/monthly/2026-10.html"
    async with http.get(page) as r:
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm=")
    async with http.get(page, headers={"Authorization": aiohttp.encode_basic_auth("anything", "octo-token")}) as r:
        assert r.status == 200 and "Octo Logistics" in await r.text()
    # Basic is the token, nothing else: a wrong one is refused, and it does not cross the tenant wall.
    async with http.get(page, headers={"Authorization": aiohttp.encode_basic_auth("octo-viewer", "not-a-token")}) as r:
        assert r.status == 401
    async with http.get(page, headers={"Authorization": aiohttp.encode_basic_auth("x", "other-token")}) as r:
        assert r.status == 404
