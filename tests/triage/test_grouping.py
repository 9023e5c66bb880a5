"""Grouping alerts into incidents on the running stack (intake + triage, real NATS and PostgreSQL):
dedup, reopen window, correlation window, flapping, partial resolve, category and routing."""

from __future__ import annotations

import pytest

from tests.triage.stack import act, alert, events, incidents, processed, settled


@pytest.fixture
async def stack(tsettings, start):
    return await start("intake", tsettings), await start("triage", tsettings)


async def test_dedup_counts_repeats_with_first_last_seen_and_severity_trend(stack, http, tsettings):
    intake, triage = stack
    for severity in ("warning", "critical", "critical", "error"):
        await alert(http, intake, dedup_key="db", service="erp-db", severity=severity)
    d = await settled(http, triage, "ACME-1", 4)
    assert len(await incidents(http, triage)) == 1
    assert (d["occurrences"], d["severity"], d["severity_trend"]) == (4, "error", "falling")
    assert d["first_seen"] == d["opened_at"] < d["last_seen"] == d["alerts"][-1]["received_at"]
    assert d["priority"] == "P3"  # set when it opened (critical CI x warning); repeats do not re-prioritise
    assert [a["effect"] for a in d["alerts"]] == ["opened", "alert_added", "alert_added", "alert_added"]
    kinds = [e.short_type for e in await events(tsettings)]
    assert kinds == ["incident.opened"] + ["incident.alert_added"] * 3


async def test_reopen_window_reopens_the_resolved_incident(stack, http, tsettings):
    intake, triage = stack  # acme: reopen window 1 h
    for status in ("firing", "resolved", "firing"):
        await alert(http, intake, dedup_key="db", service="erp-db", status=status)
    d = await settled(http, triage, "ACME-1", 3)
    assert (d["state"], d["reopen_count"], d["resolved_at"]) == ("new", 1, None)  # never acknowledged: back to new
    assert [t["kind"] for t in d["timeline"]] == ["opened", "resolved", "reopened"]
    assert len(await incidents(http, triage)) == 1
    reopened = [e for e in await events(tsettings) if e.short_type == "incident.reopened"]
    assert [e.data["reason"] for e in reopened] == ["alert_refired"]


async def test_after_the_reopen_window_the_same_key_opens_a_new_incident(stack, http):
    intake, triage = stack  # globex: reopen window 0 (PagerDuty's rule)
    for status in ("firing", "resolved", "firing"):
        await alert(http, intake, "globex", dedup_key="crm", service="crm", status=status)
    items = await processed(http, triage, 2)
    assert {(i["number"], i["state"]) for i in items} == {("GLOBEX-1", "resolved"), ("GLOBEX-2", "new")}


async def test_correlation_groups_alerts_on_one_ci_and_keeps_them_visible(stack, http, tsettings):
    intake, triage = stack  # globex correlates alerts on one CI within 10 minutes; acme does not correlate
    await alert(http, intake, "globex", dedup_key="crm-latency", service="crm", severity="warning")
    await alert(http, intake, "globex", dedup_key="crm-errors", service="crm", severity="critical")
    await alert(http, intake, "globex", dedup_key="other", severity="warning")  # no CI: not correlated
    await alert(http, intake, "acme", dedup_key="a1", service="erp-db")
    await alert(http, intake, "acme", dedup_key="a2", service="erp-db")
    await processed(http, triage, 4)
    d = await settled(http, triage, "GLOBEX-1", 2)
    assert [(a["dedup_key"], a["effect"]) for a in d["alerts"]] == [("crm-latency", "opened"),
                                                                    ("crm-errors", "correlated")]  # fmt: skip
    assert (d["open_alerts"], d["occurrences"], d["severity"], d["severity_trend"]) == (2, 2, "critical", "rising")
    assert "alert_correlated" in [t["kind"] for t in d["timeline"]]
    assert len(await incidents(http, triage, tenant="acme")) == 2
    added = [e.data for e in await events(tsettings) if e.short_type == "incident.alert_added"]
    assert [(a["dedup_key"], a["correlated"]) for a in added] == [("crm-errors", True)]


async def test_partial_resolve_waits_for_every_alert(stack, http):
    intake, triage = stack
    for key in ("crm-latency", "crm-errors"):
        await alert(http, intake, "globex", dedup_key=key, service="crm")
    await alert(http, intake, "globex", dedup_key="crm-latency", service="crm", status="resolved")
    d = await settled(http, triage, "GLOBEX-1", 3)
    assert (d["state"], d["open_alerts"]) == ("new", 1)
    assert d["timeline"][-1]["kind"] == "alert_resolved"
    await alert(http, intake, "globex", dedup_key="crm-errors", service="crm", status="resolved")
    d = await settled(http, triage, "GLOBEX-1", 4)
    assert (d["state"], d["open_alerts"]) == ("resolved", 0)


async def test_first_resolve_rule_resolves_at_once(stack, http):
    intake, triage = stack  # initech: resolve_on first_alert
    for key in ("disk", "cpu"):
        await alert(http, intake, "initech", dedup_key=key, service="fileserver")
    await alert(http, intake, "initech", dedup_key="disk", service="fileserver", status="resolved")
    d = await settled(http, triage, "INIT-1", 3)
    assert (d["state"], d["open_alerts"]) == ("resolved", 1)


async def test_flapping_alert_is_marked_and_does_not_churn_incidents(stack, http, tsettings):
    intake, triage = stack  # acme: more than 3 state changes in 10 minutes is flapping
    statuses = ["firing", "resolved"] * 4
    for status in statuses:
        await alert(http, intake, dedup_key="wifi", service="office-wifi", status=status)
    d = await settled(http, triage, "ACME-1", len(statuses))
    assert len(await incidents(http, triage)) == 1
    assert d["flapping"] is True and d["state"] == "new"  # the last resolve did not resolve it
    kinds = [t["kind"] for t in d["timeline"]]
    assert kinds == ["opened", "resolved", "reopened", "flapping"]
    assert d["alerts"][-1]["note"] == "flapping: not resolving"
    raised = [e.short_type for e in await events(tsettings) if e.short_type != "incident.alert_added"]
    assert raised == ["incident.opened", "incident.resolved", "incident.reopened"]


async def test_category_rules_and_routing_pick_tier_and_queue(stack, http, tsettings):
    intake, triage = stack
    await alert(http, intake, dedup_key="gd", service="erp-db", source="guardduty", severity="critical")
    await alert(http, intake, dedup_key="fw", service="firewall", severity="warning")  # security P3: Tier 1
    await alert(http, intake, dedup_key="bk", service="erp-db", labels={"team": "dba"}, severity="info")
    items = {i["dedup_key"]: i for i in await processed(http, triage, 3)}
    got = {k: (i["category"], i["priority"], i["tier"], i["queue"], i["routing_rule"]) for k, i in items.items()}
    assert got == {
        "gd": ("security", "P1", 2, "security", "security-major"),
        "fw": ("security", "P3", 1, "tier-1", None),
        "bk": ("data", "P3", 3, "dba", "dba-label"),
    }
    opened = {e.data["dedup_key"]: e.data for e in await events(tsettings) if e.short_type == "incident.opened"}
    assert (opened["gd"]["tier"], opened["gd"]["queue"], opened["gd"]["routing_rule"]) == (2, "security",
                                                                                         "security-major")  # fmt: skip
    assert len(await incidents(http, triage, tier="2", category="security")) == 1
    assert len(await incidents(http, triage, queue="dba")) == 1


async def test_a_tools_resolve_after_a_persons_resolve_shows_on_the_incident(stack, http, tsettings):
    intake, triage = stack
    await alert(http, intake, dedup_key="db", service="erp-db")
    await settled(http, triage, "ACME-1", 1)
    assert (await act(http, triage, "ACME-1", "resolve", {"resolution_code": "workaround"}))[0] == 200
    await alert(http, intake, dedup_key="db", service="erp-db", status="resolved")  # Alertmanager, later
    d = await settled(http, triage, "ACME-1", 2)
    assert (d["alerts"][-1]["effect"], d["alerts"][-1]["note"]) == ("alert_resolved", "after the incident was resolved")
    assert (d["state"], d["open_alerts"], d["resolution_code"]) == ("resolved", 0, "workaround")
    assert [t["kind"] for t in d["timeline"]] == ["opened", "resolved"]  # no lifecycle change
    kinds = [e.short_type for e in await events(tsettings)]
    assert kinds == ["incident.opened", "incident.resolved"]  # the person's resolve only


async def test_an_incident_its_tool_resolved_has_the_auto_resolved_code(stack, http, tsettings):
    intake, triage = stack
    for status in ("firing", "resolved"):
        await alert(http, intake, dedup_key="db", service="erp-db", status=status)
    d = await settled(http, triage, "ACME-1", 2)
    assert (d["state"], d["resolution_code"]) == ("resolved", "auto_resolved")
    [resolved] = [e.data for e in await events(tsettings) if e.short_type == "incident.resolved"]
    assert (resolved["reason"], resolved["resolution_code"]) == ("alert_resolved", "auto_resolved")
    # People cannot choose it: it says a tool resolved the incident.
    assert (await act(http, triage, "ACME-1", "reopen", {"reason": "not fixed"}))[0] == 200
    status, body = await act(http, triage, "ACME-1", "resolve", {"resolution_code": "auto_resolved"})
    assert (status, body["error"]["details"][0]["field"]) == (422, "resolution_code")
