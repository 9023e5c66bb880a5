"""The triage part of tierline.yaml: defaults, and the mistakes it refuses with a message that says where."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
import yaml
from pydantic import ValidationError

from libs.auth import token_index
from libs.config import TierlineConfig, load_config
from tests.conftest import TEST_CONFIG
from tests.triage.conftest import TRIAGE_CONFIG

RAW = yaml.safe_load(TRIAGE_CONFIG.read_text())


def raw() -> dict:
    return copy.deepcopy(RAW)


def error(data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        TierlineConfig.model_validate(data)
    return str(info.value)


def test_defaults_when_a_tenant_sets_no_triage_rules():
    rules = load_config(TEST_CONFIG).tenant("acme").triage
    assert (rules.reopen_window, rules.correlation_window) == (timedelta(minutes=10), timedelta(0))
    assert (rules.flapping.changes, rules.flapping.within) == (4, timedelta(minutes=10))
    assert (rules.auto_resolve, rules.resolve_on, rules.maintenance, rules.category_rules) == (True, "all_alerts", [],
                                                                                              [])  # fmt: skip
    assert [r.name for r in rules.routing] == ["security-major"]
    assert rules.close_after == timedelta(days=7)


def test_roles_new_names_map_onto_old_ones_and_tokens_carry_tier_and_scope():
    tokens = {p.user: p for p in token_index(load_config(TRIAGE_CONFIG)).values()}
    assert tokens["ann"].has_role({"engineer"}) and tokens["ann"].tier == 1
    assert tokens["gus"].has_role({"provider_admin"}) and tokens["gus"].scope == frozenset({"globex"})
    assert tokens["gus"].can_see("globex") and not tokens["gus"].can_see("acme")
    assert tokens["meg"].has_role({"engineer"}) and tokens["meg"].has_role({"change_manager"})
    assert tokens["acme-viewer"].has_role({"client_viewer"}) and not tokens["acme-viewer"].has_role({"engineer"})
    assert tokens["eve"].has_role({"agent"}) and not tokens["eve"].has_role({"admin"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tenants"][2]["contract"]["priority_matrix"].pop("low"), "needs all nine cells"),
        (lambda d: d["tenants"][2]["contract"]["impact_by_criticality"].pop("low"), "needs critical, high"),
        (lambda d: d["tenants"][0]["triage"]["routing"].append({"name": "x", "ci": ["nope"]}), "unknown services"),
        (lambda d: d["tenants"][0]["triage"]["maintenance"][0].update(cis=["nope"]), "unknown services"),
        (lambda d: d["tenants"][0]["triage"]["maintenance"][0].update(ends_at="2019-01-01T00:00:00Z"), "start before"),
        (lambda d: d["tenants"][0]["triage"]["maintenance"][0].update(starts_at="2020-01-01T00:00:00"), "time zone"),
        (lambda d: d["tenants"][0]["triage"].update(reopen_window=-300), "must not be negative"),
        (lambda d: d["tenants"][0]["triage"]["flapping"].update(changes=0), "greater than or equal to 1"),
        (lambda d: d["tenants"][0]["triage"]["routing"].append({"name": "x", "tier": 4}), "less than or equal to 3"),
        (lambda d: d["tenants"][0]["triage"].update(resolve_on="sometimes"), "all_alerts"),
        (lambda d: d["tenants"][0]["api_tokens"][0].update(role="admin"), "a tenant's token is a client token"),
        (lambda d: d["provider"]["api_tokens"][0].update(role="client"), "belongs under its tenant"),
        (lambda d: d["provider"]["api_tokens"][5].update(tenants=["nope"]), "unknown tenants: nope"),
    ],
)
def test_mistakes_are_refused(change, message):
    data = raw()
    change(data)
    assert message in error(data)
