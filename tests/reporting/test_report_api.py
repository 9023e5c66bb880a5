"""The known month through the running reporting service: JSON, CSV, the printable HTML report rendered in
headless Chromium, one incident's SLA explained, the provider overview, and the tenant walls."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
import yaml

from libs.bus import connect_bus
from libs.config import sha256_hex
from libs.events import Envelope
from services.reporting.domain.period import Period
from services.reporting.domain.report import LedgerSlice, build
from services.reporting.domain.stories import Event
from tests.conftest import CHROMIUM_FLAGS, NO_CHROMIUM, auth, chromium, eventually
from tests.reporting import month

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "reporting"
OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}


@pytest.fixture
async def octo(settings, start, tmp_path):
    """Reporting with a config holding the month's tenant and a second one, fed the month's events."""
    other = {
        **month.TENANT.model_dump(mode="json", exclude={"services"}),
        "id": "other",
        "code": "OTHER",
        "api_tokens": [{"user": "other-viewer", "role": "client_viewer", "token_sha256": sha256_hex("other-token")}],
    }
    octo = {
        **month.TENANT.model_dump(mode="json"),
        "api_tokens": [{"user": "octo-viewer", "role": "client_viewer", "token_sha256": sha256_hex("octo-token")}],
    }
    config = {
        "provider": {
            "name": "Test MSP",
            "contact": {"email": "desk@msp.example", "phone": "+44 20 7946 0000", "url": "https://msp.example/help"},
            "api_tokens": [{"user": "admin", "role": "provider_admin", "token_sha256": sha256_hex("admin-token")}],
        },
        "tenants": [octo, other],
    }
    path = tmp_path / "octo.yaml"
    path.write_text(yaml.safe_dump(config))
    mine = settings.model_copy(update={"config": path})
    svc = await start("reporting", mine)
    bus = await connect_bus(mine, name="test")
    try:
        envs = [
            Envelope(
                source="tierline/test",
                type=f"tierline.{kind}",
                time=at,
                tenant="octo",
                subject=data.get("incident_id") or data.get("change_id"),
                correlationid="c",
                data=data,
            )
            for kind, at, data in month.all_events()
        ]
        await bus.publish_many(envs)

        async def recorded():
            return await bus.lag("reporting") == 0

        await eventually(recorded)
    finally:
        await bus.close()
    return svc


async def get(http, url, token="admin-token", **params):
    async with http.get(url, params=params, headers=auth(token)) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


def pure_report() -> dict:
    events = [Event(k, d, at) for k, at, d in month.all_events()]
    period = Period(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    incidents = [e for e in events if "incident_id" in e.data and not e.type.startswith("change.")]
    return build(month.TENANT, period, LedgerSlice(incidents, [e for e in events if e.type.startswith("change.")], 0))


async def test_json_report_is_the_hand_checked_month(octo, http):
    status, kind, raw = await get(http, f"{octo.url}/v1/reports/octo", **OCTOBER)
    assert status == 200 and kind.startswith("application/json")
    body = json.loads(raw)
    expected = json.loads(json.dumps(pure_report(), default=lambda v: v.isoformat()))
    for key in (
        "incidents",
        "by_priority",
        "mtta_seconds",
        "mttr_seconds",
        "mttr_coverage_seconds",
        "mttd_seconds",
        "response_sla",
        "resolution_sla",
        "availability",
        "changes",
        "families",
        "paused_seconds",
        "first_contact_resolution_pct",
        "breaches",
        "incident_list",
        "change_list",
    ):
        assert body[key] == expected[key], key
    # The month's items: OCTO-D opened at 08:00 London time, before coverage began, and CHG-2 caused it.
    waits = {i["number"]: i["counting_from"] for i in body["incident_list"] if i["counting_from"]}
    assert waits == {"OCTO-D": "2026-10-26T09:00:00+00:00"}
    caused = {c["number"]: c["caused_incidents"] for c in body["change_list"] if c["caused_incidents"]}
    assert caused == {"CHG-2": ["OCTO-D"]}
    assert body["availability"]["service_credit"]["amount"] == 3500.0
    # Trend: the three months before, then October itself.
    assert [t["period"]["from"][:7] for t in body["trend"]] == ["2026-07", "2026-08", "2026-09", "2026-10"]
    assert [t["incidents"] for t in body["trend"]] == [0, 0, 1, 5]  # F opened in September


async def test_csv_for_spreadsheets(octo, http):
    status, kind, raw = await get(http, f"{octo.url}/v1/reports/octo", format="csv", **OCTOBER)
    assert status == 200 and kind.startswith("text/csv")
    rows = dict(csv.reader(io.StringIO(raw.decode())))
    assert rows["figure"] == "value"
    assert (rows["incidents"], rows["mtta_seconds"], rows["availability.service_credit.amount"]) == (
        "5",
        "2475.0",
        "3500.0",
    )
    assert rows["breaches.0.number"] == "OCTO-D"


async def test_monthly_html_renders_in_headless_chromium(octo, http, tmp_path):
    status, kind, raw = await get(http, f"{octo.url}/v1/reports/octo/monthly/2026-10.html")
    assert status == 200 and kind.startswith("text/html")
    page = raw.decode()
    assert "Octo Logistics: service report October 2026" in page and page.count("<svg") == 5
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    assert_reads_as_a_client_report(page)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    html_file = OUTPUT / "octo-2026-10.html"
    html_file.write_text(page)
    browser = chromium()
    if browser is None:
        pytest.skip(NO_CHROMIUM)
    shot = OUTPUT / "octo-2026-10.png"
    shot.unlink(missing_ok=True)
    flags = ["--headless", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1000,4600"]
    # The page needs a token, so the browser loads the saved copy; the DOM dump proves it parsed and laid out.
    proc = await asyncio.create_subprocess_exec(
        browser,
        *flags,
        "--dump-dom",
        html_file.as_uri(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    dom, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0 and b"OCTO-D" in dom and dom.count(b"<svg") == 5
    proc = await asyncio.create_subprocess_exec(
        browser,
        *flags,
        f"--screenshot={shot}",
        html_file.as_uri(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0 and shot.exists()
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a rendered page, not a blank one


def assert_reads_as_a_client_report(page: str) -> None:
    """What a client reads: every incident and change of the month, in words, figures written one way."""
    text = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)
    rows: dict[str, list[str]] = {}
    for r in overview_rows(text):  # every table's body rows, by their first cell (the lists come first)
        if r:
            rows.setdefault(r[0], r)
    d = rows["OCTO-D"]
    assert d[1:4] + d[6:] == ["incident D", "P1", "ERP database", "missed", "met", "CHG-2"]
    assert rows["CHG-2"][1:] == ["change chg-2", "emergency", "ERP database", "26\u00a0Oct\u00a007:30", "failed",
                                 "OCTO-D"]  # fmt: skip
    assert [n for n in rows if n.startswith("OCTO-")] == ["OCTO-A", "OCTO-B", "OCTO-C", "OCTO-E", "OCTO-D"]
    assert [n for n in rows if n.startswith("CHG-")] == ["CHG-1", "CHG-3", "CHG-4", "CHG-2", "CHG-5"]
    # OCTO-D opened at 08:00 London time on a Monday, an hour before coverage began.
    assert ("OCTO-D was opened at 2026-10-26 08:00 UTC, outside coverage hours (09:00-17:00 mon,tue,wed,thu,fri "
            "Europe/London): its SLA clocks started counting at 2026-10-26 09:00 UTC.") in text  # fmt: skip
    assert "figures computed from 54 recorded events" in text and "ledger" not in page.lower()
    percentages = re.findall(r"([\d.]+) %", re.sub(r"<[^>]+>", " ", text))
    assert percentages and all(re.fullmatch(r"100|\d{1,2}\.\d{2}", p) for p in percentages), percentages
    chart = page.split("Availability per service against target</figcaption>")[1].split("</svg>")[0]
    assert ">ERP database</tspan>" in chart and ">erp-db<" not in chart  # names, as in the tables
    footer = page.split("<footer>")[1].split("</footer>")[0]
    assert "Test MSP" in footer and "desk@msp.example" in footer and "+44 20 7946 0000" in footer


async def test_one_incidents_sla_explained(octo, http):
    status, _, raw = await get(http, f"{octo.url}/v1/reports/octo/incidents/OCTO-B/sla")
    assert status == 200
    body = json.loads(raw)
    resolution = next(c for c in body["clocks"] if c["clock"] == "resolution")
    assert (resolution["outcome"], resolution["paused_s"], resolution["paused"]) == ("met", 3600.0, "1 h")
    texts = [s["text"] for s in resolution["steps"]]
    assert [s["what"] for s in resolution["steps"]] == ["started", "paused", "resumed", "stopped"]
    assert "paused for pending customer after 30 min counted" in texts[1]
    assert "resumed: paused for pending customer 1 h" in texts[2]
    assert body["holds"][0]["reason"] == "pending_customer"
    status, _, raw = await get(http, f"{octo.url}/v1/reports/octo/incidents/OCTO-D/sla")
    response = next(c for c in json.loads(raw)["clocks"] if c["clock"] == "response")
    assert response["outcome"] == "breached" and response["steps"][-1]["what"] == "breached"


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


def overview_rows(page: str) -> list[list[str]]:
    """The text of each body row's cells, read with the standard library's HTML parser."""

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.in_body = self.in_cell = False

        def handle_starttag(self, tag, attrs):
            self.in_body |= tag == "tbody"
            if self.in_body and tag == "tr":
                self.rows.append([])
            if self.in_body and tag == "td":
                self.in_cell = True
                self.rows[-1].append("")

        def handle_endtag(self, tag):
            self.in_cell = self.in_cell and tag != "td"

        def handle_data(self, data):
            if self.in_cell:
                self.rows[-1][-1] += data

    parser = Rows()
    parser.feed(page)
    return parser.rows


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
