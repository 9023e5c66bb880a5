"""The known month through the running reporting service: JSON, CSV, the printable HTML report rendered in
headless Chromium, one incident's SLA explained, the provider overview, and the tenant walls."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.reporting.domain.period import Period
from services.reporting.domain.report import LedgerSlice, build
from services.reporting.domain.stories import Event
from tests.conftest import CHROMIUM_FLAGS, NO_CHROMIUM, chromium
from tests.reporting import month
from tests.reporting.octo import OCTOBER, get, overview_rows

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "reporting"


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
    # 50 rows: 54 before issue 17, when each of A-D had two sla.clock_started rows instead of one sla.clocks_started
    assert "figures computed from 50 recorded events" in text and "ledger" not in page.lower()
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
