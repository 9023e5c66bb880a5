"""The printable report's contract section: each contract version the period covered, the part of the period it was
in force, its terms and what was measured under it (docs/metrics.md, "Contracts that change")."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from services.reporting.api.charts import pct
from services.reporting.api.tables import section, table


def _span(a: datetime, b: datetime) -> str:
    return f"{a:%d %b %H:%M} to {b:%d %b %H:%M} UTC"


def coverage_at(r: dict[str, Any], at: datetime) -> str:
    """The coverage hours of the version in force at `at` (an incident's, when it opened)."""
    return next((v["coverage"] for v in r["contracts"] if v["from"] <= at < v["to"]), r["contract"]["coverage"])


def contract_section(r: dict[str, Any]) -> str:
    credits = {c["version"]: c["service_credit"] for c in r["availability"]["by_contract"]}
    rows = []
    for v in r["contracts"]:
        credit = credits.get(v["version"])
        money = f"{credit['amount']:,.2f} {escape(credit['currency'])}" if credit else None
        rows.append([v["tier"], _span(v["from"], v["to"]), v["coverage"], pct(v["availability_target_pct"]),
                     pct(v["sla_compliance_target_pct"]), v["incidents"], pct(v["response_sla"]["compliance_pct"]),
                     pct(v["resolution_sla"]["compliance_pct"]), money])  # fmt: skip
    headers = ["contract", "in force", "coverage", "availability target", "SLA compliance target", "incidents opened",
               "response SLA", "resolution SLA", "service credit"]  # fmt: skip
    return section("Contract", table(headers, rows))
