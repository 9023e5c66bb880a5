"""What the all-endpoint fuzz (test_fuzz_every_endpoint.py) found, each pinned: a 5xx, or a refusal without its
envelope or page, before the fix; a clear 4xx now."""

from __future__ import annotations

import pytest
from yarl import URL

from tests.conftest import TEST_CONFIG
from tests.console.conftest import client, sign_in
from tests.e2e.fullstack import full_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def stack(real_servers):
    async with full_stack(real_servers, TEST_CONFIG) as s:
        yield s


@pytest.mark.parametrize(
    ("service", "method", "path", "status", "code"),
    [
        # int() of 40 digits is no stream sequence: the replay looked it up and failed (500)
        ("triage", "POST", "/v1/deadletters/9999999999999999999999999999999999999999/replay", 404, "not_found"),
        # "²" is a digit to str.isdigit() and no number to int(): 500 for a limit or a trend
        ("triage", "GET", "/v1/incidents?limit=%C2%B2", 400, "invalid_query"),
        ("escalation", "GET", "/v1/sla/notifications?limit=%C2%B2", 400, "invalid_query"),
        ("reporting", "GET", "/v1/reports/acme?trend=%C2%B2", 400, "invalid_query"),
        ("triage", "POST", "/v1/deadletters/%C2%B2/replay", 404, "not_found"),
        # a newline in a path reached the console's 404 reason phrase, where aiohttp refuses one (500)
        ("console", "GET", "/console/reports/%0A/2026-11.html", 400, "invalid_characters"),
        ("triage", "GET", "/v1/incidents/ACME-1%0D%0AX-Injected:%201", 400, "invalid_characters"),
    ],
)
async def test_a_hostile_id_or_number_is_a_clear_4xx(stack, method, service, path, status, code):
    async with client() as http:
        headers = {"Authorization": "Bearer admin-token"}
        if service == "console":
            await sign_in(http, stack.services["console"].url, "admin-token")
        url = URL(stack.services[service].url + path, encoded=True)
        async with http.request(method, url, headers=headers) as r:
            assert r.status == status, await r.text()
            assert (await r.json())["error"]["code"] == code


async def test_the_consoles_refusals_are_pages_or_the_envelope_never_empty(stack):
    console = stack.services["console"].url
    async with client() as http:
        async with http.get(f"{console}/console/events") as r:  # signed out: was a text/plain 401
            assert r.status == 401 and (await r.json())["error"]["code"] == "unauthenticated"
        await sign_in(http, console, "admin-token")
        async with http.get(f"{console}/console/static/nosuch.js") as r:  # was aiohttp's empty 404
            assert r.status == 404 and r.content_type == "text/html" and "Not found" in await r.text()
        async with http.get(f"{console}/console/static/console.css") as r:
            assert r.status == 200 and r.content_type == "text/css"
        async with http.get(f"{console}/console/fragments/queue?cursor=0") as r:  # was an empty 400
            assert r.status == 400 and r.content_type == "text/html" and "cursor" in await r.text()


@pytest.mark.parametrize("where", ["path", "header"])
async def test_a_request_aiohttp_cannot_read_is_refused_in_the_envelope(stack, http, where):
    """A request line or header over 8 KiB never reaches the app; aiohttp's own answer was a text/plain 400."""
    for base in (stack.services["triage"].url, stack.gateway):
        path, headers = (
            ("/v1/incidents/" + "a" * 9000, {}) if where == "path" else ("/v1/incidents", {"X-Big": "a" * 9000})
        )
        async with http.get(base + path, headers=headers) as r:
            assert r.status == 400 and r.content_type == "application/json", await r.text()
            assert (await r.json())["error"]["code"] == "unreadable_request"
