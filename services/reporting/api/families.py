"""The printable report's service families table, and its data protection and compliance sections: for the data
and compliance families their own primary figures (RPO, RTO, control coverage, findings) instead of MTTR."""

from __future__ import annotations

from typing import Any

from services.reporting.api.charts import pct
from services.reporting.api.tables import figure, section, table
from services.reporting.domain.explain import human


def _names(r: dict[str, Any]) -> dict[str, str]:
    return {s["ci"]: s["name"] for s in r["availability"]["services"]}


def _data_words(f: dict[str, Any]) -> str:
    rpo, gap = pct(f["rpo_compliance_pct"]), human(f["worst_gap_seconds"])
    rto = f"{f['rto_met']} of {f['rto_tests']} ({pct(f['rto_met_pct'])})"
    return f"backups within their RPO {rpo} of the time, worst gap {gap}; restores within their RTO {rto}"


def _compliance_words(f: dict[str, Any]) -> str:
    return f"control coverage {pct(f['control_coverage_pct'])}, open findings {f['open_findings']}"


def families_table(r: dict[str, Any]) -> str:
    words = {"data": _data_words, "compliance": _compliance_words}
    return table(
        ["family", "incidents", "main figures"],
        [[name, f["incidents"], words[name](f) if name in words else
          ", ".join(figure(k, v) for k, v in f.items() if k != "incidents")]
         for name, f in r["families"].items()],
    )  # fmt: skip


def data_section(r: dict[str, Any]) -> str:
    """Each backup job against its RPO, and the restore tests against their CI's RTO (none: no section)."""
    data, names = r["data_protection"], _names(r)
    restores = data["restores"]
    if not data["backups"] and not restores["tests"]:
        return ""
    jobs = table(
        ["backup job", "service", "RPO", "within RPO", "worst gap", "runs", "failed runs"],
        [[b["heartbeat"], names.get(b["ci"], b["ci"]), human(b["rpo_seconds"]), pct(b["rpo_compliance_pct"]),
          human(b["worst_gap_seconds"]), b["runs"], b["failed_runs"]] for b in data["backups"]],
    )  # fmt: skip
    outcome = {True: "within RTO", False: "missed", None: "no RTO set"}
    tests = table(
        ["restored service", "started", "finished", "took", "RTO", "succeeded", "result"],
        [[names.get(t["ci"], t["ci"]), t["started_at"], t["finished_at"], human(t["took_seconds"]),
          human(t["rto_seconds"]), "yes" if t["success"] else "no", outcome[t["rto_met"]]] for t in restores["list"]],
    )  # fmt: skip
    return section("Data protection", jobs + tests)


def controls_section(r: dict[str, Any]) -> str:
    """Each control on each CI in its scope as its newest result left it, and the open findings."""
    controls, names = r["compliance_controls"], _names(r)
    if not controls["in_scope"]:
        return ""
    rows = [[c["title"] or c["id"], c["framework_ref"], names.get(x["ci"], x["ci"]), x["result"] or "no result",
             x["checked_at"], "yes" if x["covered"] else "no"]
            for c in controls["controls"] for x in c["cis"]]  # fmt: skip
    checks = table(["control", "framework", "service", "newest result", "checked", "covered"], rows)
    findings = table(
        ["open finding", "framework", "service", "failed at", "evidence"],
        [[f["title"] or f["control"], f["framework_ref"], names.get(f["ci"], f["ci"]), f["checked_at"],
          f["evidence_url"]] for f in controls["findings"]],
    )  # fmt: skip
    return section("Compliance controls", checks + findings)
