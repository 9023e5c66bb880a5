"""Heartbeats, controls and restore objectives in tierline.yaml: read as documented, each mistake refused at
its own path (what `tierline config check` prints)."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from libs.config import TierlineConfig, load_config

SIGNALS = Path(__file__).parents[1] / "fixtures" / "signals.yaml"
DEMO = Path(__file__).parents[2] / "tierline.yaml"
RAW = yaml.safe_load(SIGNALS.read_text())


def acme(**changes: object) -> dict:
    data = copy.deepcopy(RAW)
    data["tenants"][0].update(changes)
    return data


def errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        TierlineConfig.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in info.value.errors(include_url=False)]


def test_the_demo_has_a_watchdog_a_nightly_backup_and_two_controls():
    tenant = load_config(DEMO).tenant("acme")
    assert tenant is not None
    watchdog, backup = tenant.heartbeats
    assert (watchdog.alertmanager_alertname, watchdog.ci) == ("Watchdog", "monitoring")
    assert (backup.kind, backup.rpo, backup.ci) == ("backup", timedelta(hours=24), "backup")
    assert [c.framework_ref for c in tenant.controls] == ["HIPAA 164.312(b)", "HIPAA 164.312(a)(2)(iv)"]
    assert tenant.ci_index["erp-db"].rto == timedelta(hours=4)


def test_defaults():
    tenant = load_config(SIGNALS).tenant("acme")
    assert tenant is not None
    weekly = tenant.heartbeat_index["weekly-report"]
    assert (weekly.kind, weekly.grace, weekly.rpo, weekly.alertmanager_alertname) == (
        "heartbeat",
        timedelta(0),
        None,
        None,
    )
    assert tenant.control_index["backup-encryption"].incident_on_fail is False
    assert tenant.heartbeat_alertnames == {"Watchdog": tenant.heartbeat_index["acme-prometheus"]}
    assert tenant.ci_index["m365"].rto is None


def test_references_are_refused_at_their_paths():
    beats = copy.deepcopy(RAW["tenants"][0]["heartbeats"])
    beats[1]["ci"] = "tape-library"
    beats[2]["name"] = "acme-prometheus"
    beats[2]["alertmanager_alertname"] = "Watchdog"
    controls = copy.deepcopy(RAW["tenants"][0]["controls"])
    controls[0]["cis"] = ["erp-db", "mainframe"]
    controls[1]["id"] = "audit-logging"
    assert errors(acme(heartbeats=beats, controls=controls)) == [
        ("tenants.0.heartbeats.1.ci", "names unknown service 'tape-library'"),
        ("tenants.0.heartbeats.2.name", "heartbeat names must be unique: 'acme-prometheus'"),
        ("tenants.0.heartbeats.2.alertmanager_alertname",
         "alert name 'Watchdog' already counts as a beat of 'acme-prometheus'"),
        ("tenants.0.controls.0.cis.1", "names unknown service 'mainframe'"),
        ("tenants.0.controls.1.id", "control ids must be unique: 'audit-logging'"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "path", "message"),
    [
        ({"name": "b", "kind": "backup", "expect_every": "1d", "ci": "backup"}, "heartbeats.0",
         "a backup heartbeat needs `rpo` and the `ci` it backs up"),
        ({"name": "b", "expect_every": "1d", "rpo": "1d"}, "heartbeats.0", "`rpo` is for `kind: backup` only"),
        ({"name": "b", "expect_every": "0s"}, "heartbeats.0.expect_every", "must be a positive duration"),
        ({"name": "B b", "expect_every": "1m"}, "heartbeats.0.name", "String should match pattern"),
        ({"name": "b", "expect_every": "1m", "severity": "loud"}, "heartbeats.0.severity", "Input should be"),
    ],
)  # fmt: skip
def test_bad_heartbeats(entry, path, message):
    [(where, msg)] = errors(acme(heartbeats=[entry]))
    assert where == f"tenants.0.{path}" and message in msg


def test_a_control_needs_a_ci_in_scope_and_an_interval():
    found = errors(acme(controls=[{"id": "c", "framework_ref": "CIS 1.1", "cis": []}]))
    assert [w for w, _ in found] == ["tenants.0.controls.0.cis", "tenants.0.controls.0.check_every"]


def test_rto_is_a_duration():
    data = acme()
    data["tenants"][0]["services"][0]["rto"] = "soon"
    [(where, msg)] = errors(data)
    assert where == "tenants.0.services.0.rto" and "not a duration" in msg
