"""The monthly service report as one printable HTML page: figures, tables and SVG charts, nothing external."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from libs.config import PRIORITIES, Provider
from services.reporting.api import charts
from services.reporting.api.charts import pct
from services.reporting.api.families import controls_section, data_section, families_table
from services.reporting.api.tables import cell, section, table
from services.reporting.api.versions import contract_section, coverage_at
from services.reporting.domain.explain import human

STYLE = """
body { font-family: system-ui, sans-serif; color: #202124; margin: 2rem auto; max-width: 900px; padding: 0 1rem; }
h1 { margin-bottom: 0; } .sub { color: #5f6368; margin-top: .25rem; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: .75rem; margin: 1.5rem 0; }
.card { border: 1px solid #dadce0; border-radius: 8px; padding: .75rem; }
.card b { display: block; font-size: 1.4rem; } .card span { color: #5f6368; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #dadce0; padding: .35rem .5rem; text-align: left; vertical-align: top; }
.bad { color: #b3261e; } .good { color: #188038; } figure { margin: 1rem 0 2rem; }
figcaption { font-weight: 600; margin-bottom: .5rem; }
footer { margin-top: 2.5rem; padding-top: .75rem; border-top: 1px solid #dadce0; color: #5f6368; font-size: .85rem; }
footer a { color: inherit; }
@media print { body { margin: 0; max-width: none; } .cards { grid-template-columns: repeat(4, 1fr); }
  figure, table { break-inside: avoid; } }
"""


def _card(label: str, value: str, good: bool | None = None) -> str:
    cls = "" if good is None else (' class="good"' if good else ' class="bad"')
    return f'<div class="card"><b{cls}>{escape(value)}</b><span>{escape(label)}</span></div>'


def _worst(r: dict[str, Any]) -> float | None:
    return min((s["availability_pct"] for s in r["availability"]["services"] if s["availability_pct"] is not None),
               default=None)  # fmt: skip


def _cards(r: dict[str, Any]) -> str:
    target, avail, worst = r["sla_compliance_target_pct"], r["availability"], _worst(r)
    credit = avail.get("service_credit")

    def against(v: float | None) -> bool | None:
        return None if v is None else v >= target

    response, resolution = r["response_sla"]["compliance_pct"], r["resolution_sla"]["compliance_pct"]
    cards = [
        _card("incidents opened", str(r["incidents"])),
        _card("mean time to acknowledge", human(r["mtta_seconds"])),
        _card("mean time to resolve", human(r["mttr_seconds"])),
        _card("mean time to resolve, coverage hours", human(r["mttr_coverage_seconds"])),
        _card("responded to within the SLA", pct(response), against(response)),
        _card("resolved within the SLA", pct(resolution), against(resolution)),
        _card("lowest service availability", pct(worst), None if worst is None else all(
            s["met"] for s in avail["services"])),
        _card("service credit owed", f"{credit['amount']:g} {credit['currency']}" if credit else "-",
              None if not credit else credit["amount"] == 0),
    ]  # fmt: skip
    return f'<div class="cards">{"".join(cards)}</div>'


def _charts(r: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    target, services, worst = r["sla_compliance_target_pct"], r["availability"]["services"], _worst(r)
    weeks = [(w["from"].strftime("%d %b"), {p: w[p] for p in PRIORITIES}) for w in r["weekly_volume"]]
    floor = 0.0 if worst is None or worst < 90 else 90.0 if worst < 99 else 99.0

    def by_priority(clock: str) -> list[tuple[str, float | None]]:
        return [(p, r[clock]["by_priority"][p]["compliance_pct"]) for p in PRIORITIES]

    hours = [(t["period"]["from"].strftime("%b %Y"),
              None if t["mttr_seconds"] is None else round(t["mttr_seconds"] / 3600, 2)) for t in trend]  # fmt: skip
    availability_target = min((s["target_pct"] for s in services), default=99.9)
    figures = [
        ("Incidents opened per week, by priority", charts.stacked_bars(weeks, "Incidents opened per week")),
        ("Responded to within the SLA, by priority",
         charts.bars_against_target(by_priority("response_sla"), target, "Response SLA compliance")),
        ("Resolved within the SLA, by priority",
         charts.bars_against_target(by_priority("resolution_sla"), target, "Resolution SLA compliance")),
        ("Mean time to resolve, hours (this and previous months)", charts.line(hours, "MTTR trend", " h")),
        ("Availability per service against target", charts.bars_against_target(
            [(s["name"], s["availability_pct"]) for s in services], availability_target, "Availability per service",
            floor=floor)),
    ]  # fmt: skip
    return "".join(f"<figure><figcaption>{escape(t)}</figcaption>{svg}</figure>" for t, svg in figures)


OUTCOME = {"met": "met", "breached": "missed", "open": "in progress", None: "-"}


def _when(at: datetime | None) -> str | None:
    """A time in a list of the month's items: the day and time (UTC) are enough."""
    return None if at is None else at.strftime("%d\u00a0%b\u00a0%H:%M")  # kept on one line


def _incidents(r: dict[str, Any]) -> str:
    items = r["incident_list"]
    listed = table(
        ["incident", "title", "priority", "service", "opened (UTC)", "resolved", "response", "resolution",
         "suspected change"],
        [[i["number"], i["title"], i["priority"], i["service"], _when(i["opened_at"]),
          _when(i["resolved_at"]) or "open", OUTCOME[i["response"]], OUTCOME[i["resolution"]],
          ", ".join(i["suspected_changes"]) or None]
         for i in items],
    )  # fmt: skip
    waits = [
        f"<p>{escape(i['number'])} was opened at {cell(i['opened_at'])}, outside coverage hours "
        f"({escape(coverage_at(r, i['opened_at']))}): its SLA clocks started counting at "
        f"{cell(i['counting_from'])}.</p>"
        for i in items if i["counting_from"]
    ]  # fmt: skip
    return listed + "".join(waits)


def _services(r: dict[str, Any]) -> str:
    return table(
        ["service", "availability", "target", "downtime", "change windows excluded", "credit"],
        [[s["name"], pct(s["availability_pct"]), pct(s["target_pct"]), f"{s['downtime_minutes']:g} min",
          f"{s['excluded_change_minutes']:g} min", pct(s.get("credit_pct"))] for s in r["availability"]["services"]],
    )  # fmt: skip


def _breaches(r: dict[str, Any]) -> str:
    return table(
        ["incident", "clock", "priority", "due", "missed at"],
        [[b["number"], b["clock"], b["priority"], b["due_at"], b["breached_at"]] for b in r["breaches"]],
    )


def _changes(r: dict[str, Any]) -> str:
    ch = r["changes"]
    listed = table(
        ["change", "title", "type", "services", "implemented (UTC)", "result", "incidents it caused"],
        [[c["number"], c["title"], c["change_type"], ", ".join(c["services"]), _when(c["implemented_at"]), c["result"],
          ", ".join(c["caused_incidents"]) or None] for c in r["change_list"]],
    )  # fmt: skip
    summary = table(
        ["implemented", "successful", "failed", "rejected", "cancelled", "success rate", "emergency share",
         "reported by tools"],
        [[ch["implemented"], ch["by_outcome"]["successful"], ch["by_outcome"]["failed"], ch["by_outcome"]["rejected"],
          ch["by_outcome"]["cancelled"], pct(ch["success_rate_pct"]), pct(ch["emergency_share_pct"]),
          ch["unmanaged"]]],
    )  # fmt: skip
    return listed + summary


def _operations(r: dict[str, Any]) -> str:
    held = ", ".join(f"{k.replace('_', ' ')} {human(v)}" for k, v in r["paused_seconds"].items()) or "-"
    return table(
        ["escalation rate", "resolved at first contact", "reopen rate", "mean time to detect", "on hold (SLA paused)"],
        [[pct(r["escalation_rate_pct"]), pct(r["first_contact_resolution_pct"]), pct(r["reopen_rate_pct"]),
          human(r["mttd_seconds"]), held]],
    )  # fmt: skip


def _footer(provider: Provider) -> str:
    c = provider.contact
    parts = [escape(provider.name)]
    if c is not None:
        parts += [f'<a href="mailto:{escape(c.email)}">{escape(c.email)}</a>' if c.email else "",
                  escape(c.phone or ""), f'<a href="{escape(c.url)}">{escape(c.url)}</a>' if c.url else ""]  # fmt: skip
    return f"<footer>{' &middot; '.join(p for p in parts if p)}</footer>"


def render(report: dict[str, Any], trend: list[dict[str, Any]], *, provider: Provider, month: str) -> str:
    r = report
    so_far = (
        ""
        if r["availability"]["complete"]
        else (f" &middot; month to date: availability and credits as of {cell(r['availability']['measured_to'])}")
    )
    coverage = r["contract"]["coverage"] if len(r["contracts"]) == 1 else "by version, below"
    head = (f"<h1>{escape(r['name'])}: service report {escape(month)}</h1>"
            f'<p class="sub">{escape(provider.name)} &middot; contract {escape(r["contract"]["summary"])}, coverage '
            f"{escape(coverage)} &middot; figures computed from {r['ledger_events']} recorded "
            f"events{so_far}</p>")  # fmt: skip
    body = "".join([
        head, _cards(r), _charts(r, trend),
        section("Incidents", _incidents(r)), contract_section(r),
        section("Service availability", _services(r)), section("SLA targets missed", _breaches(r)),
        section("Changes", _changes(r)), section("Operations", _operations(r)),
        data_section(r), controls_section(r), section("Service families", families_table(r)), _footer(provider),
    ])  # fmt: skip
    title = f"{escape(r['name'])} service report {escape(month)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{STYLE}</style></head><body>
{body}
</body></html>"""


def _flag(text: str, good: bool | None) -> str:
    if good is None:
        return escape(text)
    return f'<span class="{"good" if good else "bad"}">{escape(text)}</span>'


def _against(value: float | None, target: float) -> str:
    return _flag(pct(value), None if value is None else value >= target)


def render_overview(reports: list[dict[str, Any]], *, provider: str, period: str, month: str | None) -> str:
    """Every visible tenant on one page for the provider's managers: who is off target, and what it costs.

    `month` (YYYY-MM) is set when the period is one calendar month, so each tenant links to its monthly report.
    """
    head = "".join(
        f"<th>{h}</th>"
        for h in [
            "client",
            "incidents",
            "MTTA",
            "MTTR",
            "response SLA",
            "resolution SLA",
            "breaches",
            "lowest availability",
            "changes",
            "service credit",
        ]
    )
    rows = []
    for r in reports:
        target = r["sla_compliance_target_pct"]
        services = r["availability"]["services"]
        worst = min((s["availability_pct"] for s in services if s["availability_pct"] is not None), default=None)
        credit = r["availability"].get("service_credit")
        name = escape(r["name"])
        if month:
            name = f'<a href="/v1/reports/{escape(r["tenant"])}/monthly/{month}.html">{name}</a>'
        cells = [
            name,
            escape(str(r["incidents"])),
            escape(human(r["mtta_seconds"])),
            escape(human(r["mttr_seconds"])),
            _against(r["response_sla"]["compliance_pct"], target),
            _against(r["resolution_sla"]["compliance_pct"], target),
            _flag(str(len(r["breaches"])), None if not r["breaches"] else False),
            _flag(pct(worst), None if worst is None else all(s["met"] for s in services)),
            escape(str(r["changes"]["implemented"])),
            escape(f"{credit['amount']:g} {credit['currency']}") if credit else "-",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(provider)}: clients {escape(period)}</title>
<style>{STYLE}</style></head><body>
<h1>{escape(provider)}: all clients</h1>
<p class="sub">{escape(period)} &middot; SLA figures in green meet the client's compliance target, red miss it
&middot; figures computed from recorded events</p>
{table or '<p class="sub">No clients visible to this token.</p>'}
</body></html>"""
