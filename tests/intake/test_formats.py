"""Each format's mapping onto Tierline's alert, from real-shaped fixtures (pure: no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.intake.domain.alert import Signal, content_id, severity_of, to_alert
from services.intake.domain.alertmanager import AlertmanagerNotification, GrafanaNotification, alert_signals
from services.intake.domain.pagerduty import PdEvent, generated_dedup_key, pd_signal

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intake"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_alertmanager_notification_becomes_one_signal_per_alert():
    body = AlertmanagerNotification.model_validate(fixture("alertmanager_firing.json"))
    signals = alert_signals(body, source="alertmanager", ci_label="service", tenant_label="tenant")
    assert [(s.dedup_key, s.status, s.severity, s.ci) for s in signals] == [
        ("5b0a6c4e3f2d1a90", "firing", "critical", "erp-db"),
        ("7c1e2d3f4a5b6c70", "firing", "critical", "erp-db"),
        ("9d8c7b6a5f4e3d21", "firing", "warning", None),
    ]
    first, _, last = signals
    assert first.summary == "Filesystem /var/lib/postgresql on erp-db-01 is 97% full"
    assert first.description == "Only 3% space left on /dev/sda1 at /var/lib/postgresql."
    assert first.started_at == datetime(2026, 11, 28, 4, 58, 30, 123000, tzinfo=UTC)
    assert first.labels["instance"] == "erp-db-01:9100" and first.labels["generator_url"].startswith("http://prom")
    assert last.description is None


def test_alertmanager_summary_falls_back_to_alertname_on_instance():
    raw = fixture("alertmanager_firing.json")
    raw["alerts"] = [{**raw["alerts"][0], "annotations": {}}]
    [s] = alert_signals(AlertmanagerNotification.model_validate(raw), source="am", ci_label="x", tenant_label="t")
    assert s.summary == "NodeFilesystemAlmostFull on erp-db-01:9100" and s.ci is None


def test_alertmanager_resolved_and_chosen_labels():
    raw = fixture("alertmanager_resolved.json")
    raw["alerts"][0]["labels"] |= {"customer": "globex", "host_group": "crm"}
    body = AlertmanagerNotification.model_validate(raw)
    [s] = alert_signals(body, source="alertmanager", ci_label="host_group", tenant_label="customer")
    assert (s.status, s.ci, s.tenant_hint) == ("resolved", "crm", "globex")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("version",), "3"),
        (("status",), "burning"),
        (("alerts",), []),
        (("alerts", 0, "fingerprint"), ""),
        (("alerts", 0, "startsAt"), "yesterday"),
        (("alerts", 0, "labels"), {"a": 1.5}),
    ],
)
def test_alertmanager_schema_errors_name_the_field(path, value):
    raw = fixture("alertmanager_firing.json")
    target = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as exc:
        AlertmanagerNotification.model_validate(raw)
    assert ".".join(map(str, exc.value.errors()[0]["loc"])).startswith(".".join(map(str, path)))


def test_grafana_extras_kept_as_labels():
    body = GrafanaNotification.model_validate(fixture("grafana_firing.json"))
    [s] = alert_signals(body, source="grafana", ci_label="service", tenant_label="tenant")
    assert (s.source, s.dedup_key, s.severity, s.ci) == ("grafana", "a1b2c3d4e5f60718", "warning", "crm")
    assert s.labels["dashboard_url"] == "https://grafana.example.com/d/web-overview?orgId=1"
    assert s.labels["panel_url"].endswith("viewPanel=4")
    assert s.labels["value.A"] == "2.41" and "image_url" not in s.labels  # empty URLs are dropped


@pytest.mark.parametrize(
    ("word", "severity"),
    [("critical", "critical"), ("PAGE", "critical"), ("high", "error"), ("warning", "warning"), ("minor", "warning"),
     ("info", "info"), ("none", "info"), (None, "error"), ("banana", "error")],
)  # fmt: skip
def test_severity_words(word, severity):
    assert severity_of(word) == severity


def test_pagerduty_trigger_maps_payload():
    event = PdEvent.model_validate(fixture("pagerduty_trigger.json"))
    s = pd_signal(event, dedup_key="k", known_cis={"erp-db"}, ci_label="service", tenant_label="tenant")
    assert (s.status, s.severity, s.ci, s.summary) == ("firing", "critical", "erp-db", event.payload.summary)
    assert s.started_at == datetime(2026, 11, 28, 5, 2, tzinfo=UTC)
    assert s.labels["component"] == "postgresql" and s.labels["detail.lag_seconds"] == "412"
    assert "PostgreSQL dashboard: https://grafana.example.com/d/pg" in s.description


def test_pagerduty_ci_from_a_declared_component_when_details_do_not_name_one():
    raw = fixture("pagerduty_trigger.json")
    raw["payload"]["custom_details"] = {"note": "x"}
    raw["payload"]["group"] = "erp-db"
    s = pd_signal(PdEvent.model_validate(raw), dedup_key="k", known_cis={"erp-db"}, ci_label="service",
                  tenant_label="tenant")  # fmt: skip
    assert s.ci == "erp-db"
    s = pd_signal(PdEvent.model_validate(raw), dedup_key="k", known_cis=set(), ci_label="service", tenant_label="t")
    assert s.ci is None


def test_pagerduty_acknowledge_and_resolve_need_a_dedup_key():
    ack = PdEvent.model_validate({"routing_key": "k", "event_action": "acknowledge", "dedup_key": "d"})
    s = pd_signal(ack, dedup_key="d", known_cis=set(), ci_label="service", tenant_label="tenant")
    assert (s.status, s.dedup_key) == ("acknowledged", "d")
    for action in ("acknowledge", "resolve"):
        with pytest.raises(ValidationError, match="dedup_key"):
            PdEvent.model_validate({"routing_key": "k", "event_action": action})
    with pytest.raises(ValidationError, match="payload"):
        PdEvent.model_validate({"routing_key": "k", "event_action": "trigger"})


def test_pagerduty_limits():
    raw = fixture("pagerduty_trigger.json")
    for field, value in [("summary", "x" * 1025), ("severity", "fatal")]:
        with pytest.raises(ValidationError):
            PdEvent.model_validate({**raw, "payload": {**raw["payload"], field: value}})
    with pytest.raises(ValidationError):
        PdEvent.model_validate({**raw, "dedup_key": "d" * 256})


def test_generated_dedup_key_is_stable_for_a_retry():
    raw = fixture("pagerduty_trigger.json")
    del raw["dedup_key"]
    a, b = PdEvent.model_validate(raw), PdEvent.model_validate(json.loads(json.dumps(raw)))
    assert generated_dedup_key(a) == generated_dedup_key(b)
    raw["payload"]["summary"] = "something else"
    assert generated_dedup_key(PdEvent.model_validate(raw)) != generated_dedup_key(a)


def signal(**kw) -> Signal:
    return Signal(**{"source": "am", "dedup_key": "f1", "status": "firing", "severity": "error", "summary": "s", **kw})


def test_identity_is_the_content_or_the_idempotency_key():
    same = content_id("acme", "prom", signal(), None, 0)
    assert same == content_id("acme", "prom", signal(), None, 3)  # a retry: same content, same id
    assert same != content_id("acme", "prom", signal(status="resolved"), None, 0)
    assert same != content_id("globex", "prom", signal(), None, 0)  # tenants never share an identity
    assert same != content_id("acme", "prom", signal(severity="critical"), None, 0)
    idem = content_id("acme", "prom", signal(), "retry-7", 0)
    assert idem == content_id("acme", "prom", signal(summary="changed"), "retry-7", 0)
    assert idem != content_id("acme", "prom", signal(), "retry-7", 1)  # the second alert of the delivery


def test_detection_delay_kept_for_firing_alerts():
    t0, t1 = datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 1, 9, 2, 30, tzinfo=UTC)
    alert = to_alert(signal(started_at=t0), alert_id="a", integration="i", bound_ci="db", received_at=t1)
    assert (alert.detection_delay_s, alert.ci) == (150.0, "db")
    skewed = to_alert(signal(started_at=t1), alert_id="a", integration="i", bound_ci=None, received_at=t0)
    assert skewed.detection_delay_s == 0.0  # a source clock ahead of ours is not negative detection time
    assert to_alert(signal(), alert_id="a", integration="i", bound_ci=None, received_at=t0).detection_delay_s is None
