"""The console's On call page in a real browser (Debian's Chromium through Playwright) against the real stack:
who is on call now per schedule, the week's shifts, an override added with the form (and a refused one shown in
words), removed again, and a client's walled view. Each state is saved as a screenshot to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from services.console.domain.oncall import by_day, week_of
from tests.console.browser import api, shot, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="session")
WAIT_MS = 15_000


def local_input(t: datetime) -> str:
    return f"{t:%Y-%m-%dT%H:%M}"


async def test_a_manager_sees_who_is_on_call_and_puts_someone_on(stack, browser):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    oncall = await api(stack, "escalation", "GET", "/v1/schedules/noc/oncall", "admin-token")
    other = "eve" if oncall["on_call"]["user"] == "oscar" else "oscar"  # someone not on call now
    context, page, dialogs = await signed_in(browser, stack, "manager-token")
    try:
        await page.click("nav.nav a:has-text('On call')")
        await page.wait_for_url("**/console/oncall")
        now_panel = page.locator("#now-noc")
        await expect(now_panel.locator(".person")).to_have_text(oncall["on_call"]["user"])
        await expect(page.locator("#now-acme-dba")).to_contain_text("Acme DBAs")
        # The week: seven days for each schedule; today's cell holds whoever the shifts API says.
        await expect(page.locator("#shifts thead th")).to_have_count(8)
        monday = week_of(now.date())
        span = f"from={monday}&to={monday + timedelta(days=7)}"
        week = await api(stack, "escalation", "GET", f"/v1/schedules/noc/shifts?{span}", "admin-token")
        today = by_day(week["shifts"], monday)[now.weekday()]
        cell = page.locator("#schedule-noc td").nth(now.weekday())
        await expect(cell.locator(".entry")).to_have_count(len(today))
        await shot(page, "oncall")

        # A refusal is shown in words, and what was typed stays in the form.
        await page.select_option("#form-override select[name=schedule]", "noc")
        await page.select_option("#form-override select[name=user]", other)
        await page.fill("#form-override input[name=start]", local_input(now + timedelta(hours=2)))
        await page.fill("#form-override input[name=end]", local_input(now + timedelta(hours=1)))
        await page.click("#form-override button")
        await expect(page.locator("#problem")).to_contain_text("must be after start")
        await shot(page, "oncall-refused")

        await page.fill("#form-override input[name=start]", local_input(now - timedelta(minutes=5)))
        await page.fill("#form-override input[name=end]", local_input(now + timedelta(hours=2)))
        await page.fill("#form-override input[name=note]", "covering for the week's engineer")
        await page.click("#form-override button")
        await expect(now_panel.locator(".person")).to_have_text(other, timeout=WAIT_MS)
        await expect(now_panel).to_contain_text("override")
        await expect(page.locator("#overrides tr[data-override]")).to_have_count(1)
        await expect(cell.locator(".entry.override")).to_have_count(1)
        await shot(page, "oncall-override")

        await page.click("#overrides tr[data-override] button")
        await expect(page.locator("#overrides tr[data-override]")).to_have_count(0)
        await expect(now_panel.locator(".person")).to_have_text(oncall["on_call"]["user"])
        assert dialogs == []
    finally:
        await context.close()


async def test_a_client_sees_its_own_schedule_only_and_no_form(stack, browser):
    context, page, _ = await signed_in(browser, stack, "acme-viewer-token")
    try:
        await page.goto(f"{stack.url}/console/oncall")
        await expect(page.locator("#now-acme-dba")).to_be_visible()
        assert await page.locator("#now-noc").count() == 0  # the provider's schedule is not the client's to see
        assert await page.locator("#override-form").count() == 0 and await page.locator("#overrides").count() == 0
        await shot(page, "oncall-client")
    finally:
        await context.close()
