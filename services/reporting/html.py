"""The monthly service report as one printable HTML page: figures, tables and SVG charts, nothing external."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from libs.config import PRIORITIES
from services.reporting import charts
from services.reporting.explain import human

STYLE = """
body { font-family: system-ui, sans-serif; color: #202124; margin: 2rem auto; max-width: 900px; padding: 0 1rem; }
h1 { margin-bottom: 0; } .sub { color: #5f6368; margin-top: .25rem; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: .75rem; margin: 1.5rem 0; }
.card { border: 1px solid #dadce0; border-radius: 8px; padding: .75rem; }
.card b { display: block; font-size: 1.4rem; } .card span { color: #5f6368; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #dadce0; padding: .35rem .5rem; text-align: left; }
.bad { color: #b3261e; } .good { color: #188038; } figure { margin: 1rem 0 2rem; }
figcaption { font-weight: 600; margin-bottom: .5rem; }
@media print { body { margin: 0; max-width: none; } .cards { grid-template-columns: repeat(4, 1fr); }
  figure, table { break-inside: avoid; } }
"""


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:g} %"


def _cell(v: Any) -> str:
    if isinstance(v, datetime):
        return escape(v.strftime("%Y-%m-%d %H:%M UTC"))
    return escape("-" if v is None else str(v))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return '<p class="sub">None.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(name: str, value: Any) -> str:
    """`mttr seconds: 9000.0` as `MTTR 2 h 30 min`: durations humanised, percentages marked."""
    label = name.removesuffix("_seconds").removesuffix("_pct").replace("_", " ")
    label = {"mttr": "MTTR", "mtta": "MTTA", "mttd": "MTTD"}.get(label, label)
    if name.endswith("_seconds"):
        return f"{label} {human(value)}"
    return f"{label} {_pct(value)}" if name.endswith("_pct") else f"{label} {value}"


def _so_far(avail: dict[str, Any]) -> str:
    if avail["complete"]:
        return ""
    return f" &middot; month to date: availability and credits as of {_cell(avail['measured_to'])}"


def _card(label: str, value: str, good: bool | None = None) -> str:
    cls = "" if good is None else (' class="good"' if good else ' class="bad"')
    return f'<div class="card"><b{cls}>{escape(value)}</b><span>{escape(label)}</span></div>'


def render(report: dict[str, Any], trend: list[dict[str, Any]], *, provider: str, month: str) -> str:
    r, target = report, report["sla_compliance_target_pct"]
    avail = r["availability"]
    credit = avail.get("service_credit")
    worst = min((s["availability_pct"] for s in avail["services"] if s["availability_pct"] is not None), default=None)
    cards = "".join(
        [
            _card("incidents opened", str(r["incidents"])),
            _card("mean time to acknowledge", human(r["mtta_seconds"])),
            _card("mean time to resolve", human(r["mttr_seconds"])),
            _card("MTTR in coverage hours", human(r["mttr_coverage_seconds"])),
            _card(
                "response SLA met",
                _pct(r["response_sla"]["compliance_pct"]),
                None if r["response_sla"]["compliance_pct"] is None else r["response_sla"]["compliance_pct"] >= target,
            ),
            _card(
                "resolution SLA met",
                _pct(r["resolution_sla"]["compliance_pct"]),
                None
                if r["resolution_sla"]["compliance_pct"] is None
                else r["resolution_sla"]["compliance_pct"] >= target,
            ),
            _card(
                "lowest service availability",
                _pct(worst),
                None if worst is None else all(s["met"] for s in avail["services"]),
            ),
            _card(
                "service credit owed",
                f"{credit['amount']:g} {credit['currency']}" if credit else "-",
                None if not credit else credit["amount"] == 0,
            ),
        ]
    )
    weeks = [(w["from"].strftime("%d %b"), {p: w[p] for p in PRIORITIES}) for w in r["weekly_volume"]]
    floor = 0.0 if worst is None or worst < 90 else 90.0 if worst < 99 else 99.0
    figures = [
        ("Incident volume by week and priority", charts.stacked_bars(weeks, "Incidents opened per week")),
        (
            "Response SLA compliance by priority",
            charts.bars_against_target(
                [(p, r["response_sla"]["by_priority"][p]["compliance_pct"]) for p in PRIORITIES],
                target,
                "Response SLA compliance",
            ),
        ),
        (
            "Resolution SLA compliance by priority",
            charts.bars_against_target(
                [(p, r["resolution_sla"]["by_priority"][p]["compliance_pct"]) for p in PRIORITIES],
                target,
                "Resolution SLA compliance",
            ),
        ),
        (
            "Mean time to resolve, hours (this and previous months)",
            charts.line(
                [
                    (
                        t["period"]["from"].strftime("%b %Y"),
                        None if t["mttr_seconds"] is None else round(t["mttr_seconds"] / 3600, 2),
                    )
                    for t in trend
                ],
                "MTTR trend",
                " h",
            ),
        ),
        (
            "Availability per service against target",
            charts.bars_against_target(
                [(s["ci"], s["availability_pct"]) for s in avail["services"]],
                min((s["target_pct"] for s in avail["services"]), default=99.9),
                "Availability per service",
                floor=floor,
            ),
        ),
    ]
    chart_html = "".join(f"<figure><figcaption>{escape(t)}</figcaption>{svg}</figure>" for t, svg in figures)
    breaches = _table(
        ["incident", "clock", "priority", "due", "breached"],
        [[b["number"], b["clock"], b["priority"], b["due_at"], b["breached_at"]] for b in r["breaches"]],
    )
    services = _table(
        ["service", "availability", "target", "downtime", "change windows excluded", "credit"],
        [
            [
                s["name"],
                _pct(s["availability_pct"]),
                _pct(s["target_pct"]),
                f"{s['downtime_minutes']:g} min",
                f"{s['excluded_change_minutes']:g} min",
                _pct(s.get("credit_pct")),
            ]
            for s in avail["services"]
        ],
    )
    ch = r["changes"]
    changes = _table(
        [
            "implemented",
            "successful",
            "failed",
            "rejected",
            "cancelled",
            "success rate",
            "emergency share",
            "unmanaged",
        ],
        [
            [
                ch["implemented"],
                ch["by_outcome"]["successful"],
                ch["by_outcome"]["failed"],
                ch["by_outcome"]["rejected"],
                ch["by_outcome"]["cancelled"],
                _pct(ch["success_rate_pct"]),
                _pct(ch["emergency_share_pct"]),
                ch["unmanaged"],
            ]
        ],
    )
    families = _table(
        ["family", "incidents", "primary figures"],
        [
            [name, f["incidents"], ", ".join(_figure(k, v) for k, v in f.items() if k != "incidents")]
            for name, f in r["families"].items()
        ],
    )
    operations = _table(
        ["escalation rate", "first-contact resolution", "reopen rate", "mean time to detect", "paused (SLA clocks)"],
        [
            [
                _pct(r["escalation_rate_pct"]),
                _pct(r["first_contact_resolution_pct"]),
                _pct(r["reopen_rate_pct"]),
                human(r["mttd_seconds"]),
                ", ".join(f"{k.replace('_', ' ')} {human(v)}" for k, v in r["paused_seconds"].items()) or "-",
            ]
        ],
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(r["name"])} service report {escape(month)}</title>
<style>{STYLE}</style></head><body>
<h1>{escape(r["name"])}: service report {escape(month)}</h1>
<p class="sub">{escape(provider)} &middot; contract {escape(r["contract"]["tier"])},
coverage {escape(r["contract"]["coverage"])} &middot;
computed from the SLA event ledger ({r["ledger_events"]} events){_so_far(avail)}</p>
<div class="cards">{cards}</div>
{chart_html}
<h2>Service availability</h2>{services}
<h2>SLA breaches</h2>{breaches}
<h2>Operations</h2>{operations}
<h2>Service families</h2>{families}
<h2>Changes</h2>{changes}
</body></html>"""


def _flag(text: str, good: bool | None) -> str:
    if good is None:
        return escape(text)
    return f'<span class="{"good" if good else "bad"}">{escape(text)}</span>'


def _against(pct: float | None, target: float) -> str:
    return _flag(_pct(pct), None if pct is None else pct >= target)


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
            _flag(_pct(worst), None if worst is None else all(s["met"] for s in services)),
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
&middot; computed from the SLA event ledger</p>
{table or '<p class="sub">No clients visible to this token.</p>'}
</body></html>"""
