"""The primary figures of managed data and compliance services, from the ledger (pure; docs/metrics.md):

- **RPO compliance** per backup job: the share of the period in which the newest good recovery point was within
  the job's RPO, and the worst gap (the furthest back a restore would have gone);
- **restores**: restore tests that met their CI's RTO, out of those run on a CI with one;
- **control coverage**: (control, CI) pairs in scope whose newest result is a pass within the control's interval,
  and the open findings (pairs whose newest result is a fail).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from libs.config import Heartbeat, Tenant
from services.reporting.domain.stories import Event, instant

BACKUP_RUN, RESTORE_TEST, CONTROL_RESULT = "heartbeat.received", "recovery_test.recorded", "control.result_recorded"


@dataclass(frozen=True)
class Run:
    """A backup job's report: known from `at` on; a success restores to `recovery_point`."""

    at: datetime
    good: datetime | None


def _pct(part: float, whole: float) -> float | None:
    return round(part / whole * 100, 2) if whole > 0 else None


def rpo_figures(job: Heartbeat, runs: list[Run], start: datetime, end: datetime) -> dict[str, Any]:
    """One job over [start, end). At each moment the reference is the newest good recovery point reported so
    far; before the job's first good one, its first report (a restore had nothing newer); before its first
    report the job is not measured. Time counts outside the RPO while now - reference > rpo."""
    rpo, runs = job.rpo or timedelta(0), sorted(runs, key=lambda r: r.at)
    inside = [r for r in runs if start <= r.at < end]
    figures: dict[str, Any] = {
        "heartbeat": job.name, "ci": job.ci, "rpo_seconds": rpo.total_seconds(), "runs": len(inside),
        "failed_runs": sum(1 for r in inside if r.good is None), "measured_seconds": 0.0, "outside_rpo_seconds": 0.0,
        "rpo_compliance_pct": None, "worst_gap_seconds": None,
    }  # fmt: skip
    if not runs or runs[0].at >= end or end <= start:
        return figures
    cursor = max(start, runs[0].at)
    goods = [r.good for r in runs if r.at <= cursor and r.good is not None]
    best = max(goods) if goods else None
    outside = worst = timedelta(0)
    for run in [*(r for r in runs if cursor < r.at < end), Run(end, None)]:
        reference = best or runs[0].at
        outside += max(timedelta(0), run.at - max(cursor, reference + rpo))
        worst = max(worst, run.at - reference)
        cursor = run.at
        if run.good is not None:
            best = max(best or run.good, run.good)
    measured = (end - max(start, runs[0].at)).total_seconds()
    return figures | {
        "measured_seconds": measured, "outside_rpo_seconds": outside.total_seconds(),
        "rpo_compliance_pct": _pct(measured - outside.total_seconds(), measured),
        "worst_gap_seconds": worst.total_seconds(),
    }  # fmt: skip


def _backups(tenant: Tenant, events: list[Event], start: datetime, end: datetime) -> list[dict[str, Any]]:
    jobs = [h for h in tenant.heartbeats if h.kind == "backup"]
    runs: dict[str, list[Run]] = {h.name: [] for h in jobs}
    for e in events:
        if e.type == BACKUP_RUN and e.data.get("heartbeat") in runs and (at := instant(e.data.get("received_at"))):
            good = instant(e.data.get("recovery_point")) if e.data.get("status") == "success" else None
            runs[e.data["heartbeat"]].append(Run(at, good))
    return [rpo_figures(h, runs[h.name], start, end) for h in jobs]


def _restores(tenant: Tenant, events: list[Event], start: datetime, end: datetime) -> dict[str, Any]:
    """Restore tests finished in [start, end), each against its CI's `rto` (none: listed, not counted)."""
    tests = []
    for e in (e for e in events if e.type == RESTORE_TEST):
        began, done = instant(e.data["started_at"]), instant(e.data["finished_at"])
        if began is None or done is None or not start <= done < end:
            continue
        ci = tenant.ci_index.get(e.data["ci"])
        rto = ci.rto.total_seconds() if ci and ci.rto else None
        took = (done - began).total_seconds()
        tests.append({"ci": e.data["ci"], "started_at": began, "finished_at": done, "success": e.data["success"],
                      "took_seconds": took, "rto_seconds": rto, "note": e.data.get("note"),
                      "rto_met": None if rto is None else bool(e.data["success"]) and took <= rto})  # fmt: skip
    tests.sort(key=lambda t: (t["finished_at"], t["ci"]))
    judged = [t for t in tests if t["rto_met"] is not None]
    met = sum(1 for t in judged if t["rto_met"])
    by_ci = []
    for ci in sorted({t["ci"] for t in tests}):
        mine = [t for t in tests if t["ci"] == ci]
        longest = max(t["took_seconds"] for t in mine)
        met_here = sum(1 for t in mine if t["rto_met"])
        by_ci.append({"ci": ci, "rto_seconds": mine[0]["rto_seconds"], "tests": len(mine), "rto_met": met_here,
                      "longest_seconds": longest})  # fmt: skip
    return {"tests": len(tests), "with_rto": len(judged), "rto_met": met, "rto_met_pct": _pct(met, len(judged)),
            "by_ci": by_ci, "list": tests}  # fmt: skip


def data_protection(tenant: Tenant, events: list[Event], start: datetime, end: datetime, measured_to: datetime) -> dict:
    """Backups measured over [start, measured_to) (a month still running: to now), restores finished in the period."""
    backups = _backups(tenant, events, start, min(end, measured_to))
    measured = sum(b["measured_seconds"] for b in backups)
    outside = sum(b["outside_rpo_seconds"] for b in backups)
    gaps = [b["worst_gap_seconds"] for b in backups if b["worst_gap_seconds"] is not None]
    return {
        "rpo_compliance_pct": _pct(measured - outside, measured), "worst_gap_seconds": max(gaps, default=None),
        "backups": backups, "restores": _restores(tenant, events, start, end),
    }  # fmt: skip


def control_coverage(tenant: Tenant, events: list[Event], at: datetime | None) -> dict[str, Any]:
    """Each control on each CI in its scope, as its newest result checked by `at` left it (None: not begun)."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for e in (e for e in events if e.type == CONTROL_RESULT):
        checked = instant(e.data["checked_at"])
        key = (e.data["control_id"], e.data["ci"])
        if at is not None and checked is not None and checked <= at:
            if key not in newest or checked >= newest[key]["checked_at"]:
                newest[key] = e.data | {"checked_at": checked}
    controls, findings = [], []
    for c in tenant.controls:
        cis = []
        for ci in c.cis:
            r = newest.get((c.id, ci), {})
            covered = bool(r and at and r["result"] == "pass" and r["checked_at"] > at - c.check_every)
            seen = {"result": r.get("result"), "checked_at": r.get("checked_at"), "evidence_url": r.get("evidence_url")}
            cis.append({"ci": ci, **seen, "covered": covered})
            if r.get("result") == "fail":
                findings.append({"control": c.id, "title": c.title, "framework_ref": c.framework_ref, "ci": ci, **seen})
        covered = sum(1 for x in cis if x["covered"])
        every = c.check_every.total_seconds()
        controls.append({"id": c.id, "title": c.title, "framework_ref": c.framework_ref, "check_every_seconds": every,
                         "in_scope": len(cis), "covered": covered, "cis": cis})  # fmt: skip
    in_scope, covered = sum(c["in_scope"] for c in controls), sum(c["covered"] for c in controls)
    return {
        "measured_at": at, "in_scope": in_scope, "covered": covered,
        "control_coverage_pct": _pct(covered, in_scope) if at is not None else None,
        "open_findings": len(findings), "controls": controls, "findings": findings,
    }  # fmt: skip
