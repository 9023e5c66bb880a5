"""The console in a real browser (Debian's Chromium, driven by Playwright) against the real stack: an on-call
engineer's night, a CAB vote, a client's walled view, hostile alert text, and a screenshot of each page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from services.console.api.security import CSP
from tests.conftest import eventually
from tests.console.browser import alertmanager, api, change_in_vote, generic, incident_titled, shot, signed_in
from tests.console.conftest import CSRF

pytestmark = pytest.mark.asyncio(loop_scope="session")
WAIT_MS = 15_000


async def test_an_engineer_sees_an_alert_arrive_acknowledges_and_escalates_it(stack, browser):
    context, page, dialogs = await signed_in(browser, stack, "eng-token")
    try:
        response = await page.goto(f"{stack.url}/console/queue")
        assert response.headers["content-security-policy"] == CSP
        await expect(page.locator("#live-status")).to_have_text("live", timeout=WAIT_MS)
        await page.evaluate("window.notReloaded = true")
        await alertmanager(stack, "erp-db-02 replication lag above 30 s")

        row = page.locator("tr.row", has_text="erp-db-02 replication lag above 30 s")
        await expect(row).to_be_visible(timeout=WAIT_MS)  # arrived by itself
        assert await page.evaluate("window.notReloaded === true")
        clock = row.locator(".countdown")
        await expect(clock).to_have_text(re.compile(r"^respond in \d+m \d\ds$"), timeout=WAIT_MS)
        first = await clock.text_content()
        await expect(clock).not_to_have_text(first or "", timeout=5_000)  # it ticks
        number = await row.get_attribute("data-number")
        await shot(page, "queue")

        # The keyboard: j selects the newest row (ours), a acknowledges it.
        await page.keyboard.press("j")
        await expect(page.locator("tr.row.selected")).to_have_attribute("data-number", number)
        await page.keyboard.press("a")
        row = page.locator(f'tr.row[data-number="{number}"]')
        await expect(row.locator(".state")).to_have_text("acknowledged", timeout=WAIT_MS)
        await expect(row.locator(".countdown")).to_have_text(re.compile(r"^resolve in "))  # response clock stopped

        await page.keyboard.press("j")
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**/console/incidents/{number}")
        response_clock = page.locator('.clock[data-clock-name="response"] .countdown')
        await expect(response_clock).to_have_text("respond: met")
        await expect(response_clock).to_have_attribute("data-state", "stopped")

        await page.fill("#form-escalate input[name=reason]", "replication needs the DBA team")
        await page.click("#form-escalate button")
        await expect(page.locator("#summary")).to_contain_text("2 · queue", timeout=WAIT_MS)
        kinds = await page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.kind)")
        assert {"opened", "acknowledged", "escalated"} <= set(kinds), kinds
        await expect(page.locator("#timeline")).to_contain_text("replication needs the DBA team")
        await shot(page, "incident")
        assert dialogs == []
    finally:
        await context.close()


async def test_a_cab_member_approves_and_the_change_manager_cannot_vote_on_her_own(stack, browser):
    change = await change_in_vote(stack, "Move ERP database to new SAN")
    number = change["number"]
    context, page, _ = await signed_in(browser, stack, "bob-token")
    try:
        await page.goto(f"{stack.url}/console/changes/{number}")
        await expect(page.locator("#votes")).to_contain_text("Quorum 2 · approvals 0")
        await shot(page, "change-vote")
        await page.fill("#form-approve input[name=comment]", "rollback plan looks right")
        await page.click("#form-approve button")
        await expect(page.locator('#votes li[data-voter="bob"]')).to_contain_text("approved")
        await expect(page.locator("#votes")).to_contain_text("approvals 1")
        await expect(page.locator("#form-approve")).to_have_count(0)  # one vote each
        await shot(page, "change")
    finally:
        await context.close()

    context, page, _ = await signed_in(browser, stack, "alice-token")
    try:
        await page.goto(f"{stack.url}/console/changes/{number}")
        await expect(page.locator("#no-vote")).to_contain_text("You raised this change")
        await expect(page.locator("#form-approve")).to_have_count(0)
        # Even a hand-made form post with her valid CSRF token is refused by the change API, and said so.
        csrf = CSRF.search(await page.content()).group(1)
        r = await page.request.post(f"{stack.url}/console/changes/{number}/approve", form={"csrf": csrf})
        assert r.status == 403 and "own change" in (await r.text()).lower()
        detail = await api(stack, "change", "GET", f"/v1/changes/{number}", "admin-token")
        assert [v["voter"] for v in detail["votes"]] == ["bob"]
    finally:
        await context.close()


async def test_a_client_sees_only_its_tenant_read_only(stack, browser):
    await generic(stack, "acme-key", "Acme mail relay queue growing", service="erp-db")
    await generic(stack, "globex-key", "Globex firewall CPU high")
    globex = await incident_titled(stack, "globex", "Globex firewall CPU high")
    acme = await incident_titled(stack, "acme", "Acme mail relay queue growing")
    context, page, _ = await signed_in(browser, stack, "acme-viewer-token")
    try:
        await expect(page.locator("tr.row").first).to_be_visible()
        tenants = await page.locator("tr.row td:nth-child(2)").all_text_contents()
        assert tenants and set(tenants) == {"acme"}
        assert await page.locator("tr.row form").count() == 0 and "Mine" not in await page.locator(".tabs").inner_text()
        await shot(page, "client-queue")
        await page.goto(f"{stack.url}/console/incidents/{acme['number']}")
        await expect(page.locator("h1")).to_contain_text(acme["number"])
        assert await page.locator("#actions").count() == 0 and await page.locator("main form").count() == 0
        r = await page.goto(f"{stack.url}/console/incidents/{globex['number']}")
        assert r.status == 404
        await expect(page.locator("h1")).to_have_text("Not found")
        r = await page.goto(f"{stack.url}/console/incidents/{globex['id']}")
        assert r.status == 404
        # A POST with the client's own session and CSRF token: triage refuses it, and nothing changes.
        await page.goto(f"{stack.url}/console/queue")
        csrf = CSRF.search(await page.content()).group(1)
        r = await page.request.post(f"{stack.url}/console/incidents/{acme['number']}/acknowledge", form={"csrf": csrf})
        assert r.status == 403 and "Not allowed" in await r.text()
        after = await api(stack, "triage", "GET", f"/v1/incidents/{acme['number']}", "admin-token")
        assert after["state"] == "new"
        cookie = next(c for c in await context.cookies() if c["name"] == "tierline_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
        r = await page.request.post(f"{stack.url}/console/incidents/{acme['number']}/acknowledge", form={})
        assert r.status == 403 and "CSRF" in await r.text()
    finally:
        await context.close()


async def test_hostile_alert_text_is_shown_as_text(stack, browser):
    summary = "<img src=x onerror=alert(1)> <script>alert(2)</script> disk full"
    await generic(stack, "acme-key", summary, service="erp-db")
    incident = await incident_titled(stack, "acme", summary)
    context, page, dialogs = await signed_in(browser, stack, "eng-token")
    try:
        row = page.locator(f'tr.row[data-number="{incident["number"]}"] td.title')
        await expect(row).to_contain_text("<img src=x onerror=alert(1)>")
        await page.goto(f"{stack.url}/console/incidents/{incident['number']}")
        await expect(page.locator("h1 .title")).to_have_text(summary)
        await expect(page.locator("#alerts td.summary")).to_have_text(summary)
        assert await page.locator("main img").count() == 0 and await page.locator("main script").count() == 0
        await page.reload()
        await page.wait_for_timeout(300)  # give a rogue onerror every chance to fire
        assert dialogs == []
    finally:
        await context.close()


async def test_every_page_renders_and_is_saved_as_a_screenshot(stack, browser):
    """The change calendar (a conflict flagged, a freeze shaded), the create form, a report in its frame, the
    provider overview, sign-in, help and the light theme: each page once, saved for a person to look at."""
    first = await change_in_vote(stack, "Patch ERP database nodes", start_in=timedelta(hours=26))
    second = await change_in_vote(stack, "Resize ERP database volumes", start_in=timedelta(hours=27))
    context, page, dialogs = await signed_in(browser, stack, "admin-token")
    try:
        before = await _open_count(stack)
        for n in range(3):
            await alertmanager(stack, f"erp-app-0{n} is down", severity=("critical", "error", "warning")[n])
        await eventually(lambda: _open_count(stack, equals=before + 3))
        await expect(page.locator("tr.row")).to_have_count(before + 3, timeout=WAIT_MS)  # each arrived live
        await shot(page, "queue-admin")

        await page.goto(
            f"{stack.url}/console/changes?view=week&date={(datetime.now(UTC) + timedelta(hours=26)):%Y-%m-%d}"
        )
        flagged = page.locator("#calendar a.entry.flagged")
        await expect(flagged.filter(has_text=first["number"]).first).to_be_visible()
        await expect(flagged.filter(has_text=second["number"]).first).to_be_visible()
        await shot(page, "changes-week")
        await page.goto(f"{stack.url}/console/changes?view=month&date=2030-12-15")
        await expect(page.locator('#calendar td.frozen[data-day="2030-12-24"]')).to_contain_text("year-end")
        await shot(page, "changes-month")
        await page.goto(f"{stack.url}/console/changes/new")
        await page.fill("#form-new-change input[name=title]", "Replace core router PSU")
        await page.fill("#form-new-change input[name=cis]", "core-router")
        await shot(page, "change-new")
        await page.click("#form-new-change button")
        await expect(page.locator("h1")).to_contain_text("Replace core router PSU")
        await expect(page.locator("#summary")).to_contain_text("draft")

        month = f"{datetime.now(UTC):%Y-%m}"
        await page.goto(f"{stack.url}/console/reports/acme?month={month}")
        frame = page.frame_locator("#report")
        await expect(frame.locator("h1")).to_contain_text("Acme Manufacturing", timeout=WAIT_MS)
        await shot(page, "report")
        await page.goto(f"{stack.url}/console/reports/overview?month={month}")
        await expect(page.locator("#overview")).to_contain_text("Globex")
        await shot(page, "overview")
        await page.goto(f"{stack.url}/console/help")
        await page.click("button:has-text('Light theme')")
        await expect(page.locator("html")).to_have_attribute("data-theme", "light")
        await page.goto(f"{stack.url}/console/queue")
        await shot(page, "queue-light")
        await page.keyboard.press("?")
        await expect(page.locator("#keys")).to_be_visible()
        await shot(page, "keys")
        assert dialogs == []
    finally:
        await context.close()
    context = await browser.new_context(viewport={"width": 1000, "height": 640})
    try:
        page = await context.new_page()
        await page.goto(f"{stack.url}/console/")  # signed out: the console sends you to sign in
        await page.fill("#token", "wrong")
        await page.click("button.primary")
        await expect(page.locator(".flash.bad")).to_contain_text("not one this Tierline knows")
        await shot(page, "login")
    finally:
        await context.close()


async def _open_count(stack, equals: int | None = None) -> int | bool:
    items = (await api(stack, "triage", "GET", "/v1/incidents?state=open&limit=50", "admin-token"))["items"]
    return len(items) if equals is None else len(items) == equals
