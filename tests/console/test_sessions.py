"""Sign-in, sessions, CSRF and the headers every page sends, over plain HTTP against the running console."""

from __future__ import annotations

from http.cookies import SimpleCookie

import aiohttp
import asyncpg
import pytest

from libs.config import sha256_hex
from services.console.api.security import CSP, REPORT_FRAME_CSP
from tests.console.conftest import CSRF, client, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


def cookies(response: aiohttp.ClientResponse) -> dict[str, SimpleCookie]:
    out = {}
    for header in response.headers.getall("Set-Cookie", []):
        c = SimpleCookie()
        c.load(header)
        out.update({k: c for k in c})
    return out


async def session_rows(stack) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.console.settings.database_url)
    try:
        return await conn.fetch("SELECT * FROM console.sessions")
    finally:
        await conn.close()


async def test_a_wrong_token_gets_words_and_no_session(stack):
    before = len(await session_rows(stack))
    async with client() as http:
        r = await sign_in(http, stack.url, "not-a-token")
        assert r.status == 401
        async with http.get(f"{stack.url}/console/queue", allow_redirects=False) as q:
            assert q.status == 303 and q.headers["Location"].startswith("/console/login")
    assert len(await session_rows(stack)) == before
    async with client() as http:
        async with http.get(f"{stack.url}/console/login") as page:
            nonce = CSRF.search(await page.text()).group(1)
        form = {"token": "not-a-token", "csrf": nonce}
        async with http.post(f"{stack.url}/console/login", data=form) as r:
            assert "not one this Tierline knows" in await r.text()
        # The sign-in form's own CSRF token: a form posted from elsewhere (no cookie) is refused.
    async with client() as other:
        async with other.post(f"{stack.url}/console/login", data={"token": "eng-token", "csrf": nonce}) as r:
            assert r.status == 403


async def test_the_session_cookie_and_what_the_table_keeps(stack):
    async with client() as http:
        r = await sign_in(http, stack.url, "eng-token")
        assert r.status == 303 and r.headers["Location"] == "/console/queue"
        jar = cookies(r)["tierline_session"]["tierline_session"]
        assert jar["httponly"] and jar["samesite"] == "Strict" and jar["path"] == "/console"
        assert int(jar["max-age"]) == 12 * 3600 and not jar["secure"]  # plain HTTP here; Secure over TLS
        session_id = jar.value
        async with http.get(f"{stack.url}/console/queue") as q:
            assert q.status == 200 and "eve" in await q.text()
    rows = {r["id_sha256"]: r for r in await session_rows(stack)}
    row = rows[sha256_hex(session_id)]
    assert (row["user_name"], row["role"], row["tenant"]) == ("eve", "engineer", None)
    assert session_id not in str(dict(row)) and b"eng-token" not in bytes(row["sealed_token"])  # sealed at rest


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(stack):
    async with client() as http:
        await sign_in(http, stack.url, "alice-token")
        form = {"tenant": "acme", "change_type": "normal", "title": "No CSRF", "cis": "erp-db"}
        async with http.post(f"{stack.url}/console/changes", data=form, allow_redirects=False) as r:
            assert r.status == 403 and "CSRF" in await r.text()
        async with http.post(f"{stack.url}/console/changes", data=form | {"csrf": "forged"}) as r:
            assert r.status == 403
        async with http.get(f"{stack.api('change')}/v1/changes", headers={"Authorization": "Bearer admin-token"}) as r:
            assert not [c for c in (await r.json())["items"] if c["title"] == "No CSRF"]
        async with http.post(f"{stack.url}/console/logout", allow_redirects=False) as r:
            assert r.status == 403  # signing out is a form too
        async with http.get(f"{stack.url}/console/queue", allow_redirects=False) as r:
            assert r.status == 200


async def test_sign_out_deletes_the_session(stack):
    async with client() as http:
        r = await sign_in(http, stack.url, "bob-token")
        session_id = cookies(r)["tierline_session"]["tierline_session"].value
        async with http.get(f"{stack.url}/console/queue") as q:
            csrf = CSRF.search(await q.text()).group(1)
        async with http.post(f"{stack.url}/console/logout", data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 303 and cookies(r)["tierline_session"]["tierline_session"].value == ""
    assert sha256_hex(session_id) not in {r["id_sha256"] for r in await session_rows(stack)}
    async with client(cookies={"tierline_session": session_id}) as replay:
        async with replay.get(f"{stack.url}/console/queue", allow_redirects=False) as r:
            assert r.status == 303  # the old cookie opens nothing


async def test_every_page_sends_the_security_headers(stack):
    async with client() as http:
        await sign_in(http, stack.url, "admin-token")
        for path in ("/console/login", "/console/queue", "/console/changes", "/console/reports", "/console/help",
                     "/console/static/console.js", "/console/incidents/ACME-999999"):  # fmt: skip
            async with http.get(f"{stack.url}{path}") as r:
                assert r.headers["Content-Security-Policy"] == CSP, path
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert r.headers["Referrer-Policy"] == "same-origin"
        async with http.get(f"{stack.url}/console/reports/acme/2026-11.html") as r:
            assert r.status == 200 and r.headers["Content-Security-Policy"] == REPORT_FRAME_CSP
            assert "frame-ancestors 'self'" in REPORT_FRAME_CSP and "<svg" in await r.text()
        async with http.get(f"{stack.url}/console/incidents/ACME-999999") as r:
            assert r.status == 404


async def test_search_and_the_fragments_a_tab_fetches(stack):
    from tests.console.browser import generic, incident_titled

    await generic(stack, "acme-key", "Fragment probe", service="erp-db")
    await incident_titled(stack, "acme", "Fragment probe")
    async with client() as http:
        await sign_in(http, stack.url, "eng-token")
        async with http.get(f"{stack.url}/console/search", params={"q": "acme-7"}, allow_redirects=False) as r:
            assert r.headers["Location"] == "/console/incidents/ACME-7"
        async with http.get(f"{stack.url}/console/search", params={"q": "acme-chg-2"}, allow_redirects=False) as r:
            assert r.headers["Location"] == "/console/changes/ACME-CHG-2"
        async with http.get(f"{stack.url}/console/search", params={"q": "probe"}) as r:
            page = await r.text()
            assert r.status == 200 and "Fragment probe" in page and "Rows on this page" in page
        async with http.get(f"{stack.url}/console/fragments/queue", params={"tenant": "acme"}) as r:
            rows = await r.text()
            assert r.status == 200 and rows.count('<tr class="row"') >= 1 and "<html" not in rows
        ident = rows.split('data-id="', 1)[1].split('"', 1)[0]
        async with http.get(f"{stack.url}/console/fragments/rows/{ident}") as r:
            assert r.status == 200 and ident in await r.text()
        async with http.get(f"{stack.url}/console/fragments/rows/{ident}", params={"view": "3"}) as r:
            assert r.status == 204  # not a Tier 3 incident: the tab drops the row
        async with http.get(f"{stack.url}/console/queue", params={"priority": "P9"}) as r:
            assert r.status == 400 and "priority" in await r.text()
    async with client() as anonymous:
        async with anonymous.get(f"{stack.url}/console/fragments/queue", allow_redirects=False) as r:
            assert r.status == 303


async def test_clearing_a_suspected_incident_goes_to_the_change_api_and_its_answer_is_shown(stack):
    from tests.console.browser import change_in_vote

    change = await change_in_vote(stack, "Clear-link probe")
    async with client() as http:
        await sign_in(http, stack.url, "alice-token")
        async with http.get(f"{stack.url}/console/changes/{change['number']}") as r:
            csrf = CSRF.search(await r.text()).group(1)
        url = f"{stack.url}/console/changes/{change['number']}/incidents/ACME-1/clear"
        async with http.post(url, data={"csrf": csrf, "reason": "the disk was full"}) as r:
            page = await r.text()
            assert r.status == 404 and "linked to" in page and "Clear-link probe" in page  # on the change page
        async with http.post(url, data={"csrf": csrf}) as r:
            assert r.status == 422 and "reason" in await r.text()
        async with http.post(url, data={"reason": "no token"}) as r:
            assert r.status == 403
