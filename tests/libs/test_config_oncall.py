"""tierline.yaml's people and on-call schedules: what reads back, and each mistake refused with where it is."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
import yaml
from pydantic import ValidationError

from libs.config import TierlineConfig, load_config, parse_duration, step_target
from tests.conftest import TEST_CONFIG

RAW = yaml.safe_load(TEST_CONFIG.read_text())


def variant(change) -> dict:
    data = copy.deepcopy(RAW)
    change(data)
    return data


def refused(data: dict) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as info:
        TierlineConfig.model_validate(data)
    [err] = info.value.errors(include_url=False)
    return err["loc"], err["msg"]


def test_the_test_config_has_provider_and_tenant_schedules():
    cfg = load_config(TEST_CONFIG)
    d = cfg.directory
    assert {k: v.tenant for k, v in d.schedules.items()} == {"noc": None, "acme-dba": "acme"}
    assert d.schedule_for("acme", "acme-dba") is not None and d.schedule_for("globex", "acme-dba") is None
    assert d.schedule_for("globex", "noc") is not None  # a provider schedule serves every tenant
    assert d.person("acme", "dana").name == "dana" and d.person("globex", "dana") is None  # a tenant's own
    assert d.person(None, "eve").acts_as == "eve" and d.person(None, "oscar").acts_as == "oscar"
    noc = d.schedules["noc"].schedule
    assert noc.layers[0].rotation.length == timedelta(weeks=1) and noc.layers[1].restrictions[0].days == ["sat", "sun"]


def test_weeks_and_step_targets():
    assert parse_duration("1w") == timedelta(days=7) and parse_duration("2w3d") == timedelta(days=17)
    assert [step_target(n) for n in ("schedule:noc", "user:eve", "acme-tickets")] == [
        ("schedule", "noc"), ("user", "eve"), ("target", "acme-tickets"),
    ]  # fmt: skip


def _steps(*notify: str):
    def change(data: dict) -> None:
        data["tenants"][0]["escalation"]["steps"][0]["notify"] = list(notify)

    return change


def test_steps_may_page_schedules_and_people():
    cfg = TierlineConfig.model_validate(variant(_steps("schedule:noc", "schedule:acme-dba", "user:dana", "user:eve")))
    assert cfg.tenant("acme").escalation.steps[0].notify[0] == "schedule:noc"


def _layer_users(users):
    def change(data: dict) -> None:
        data["provider"]["schedules"][0]["layers"][0]["users"] = users

    return change


def _globex_steps(data: dict) -> None:
    data["tenants"][1]["escalation"] = {"steps": [{"tier": 1, "after": "5m", "notify": ["schedule:acme-dba"]}]}


def _email_person(data: dict) -> None:
    data["provider"]["people"][0]["contact_methods"].append({"kind": "email", "to": "eve@msp.example"})


def _dupe_schedule(data: dict) -> None:
    data["tenants"][1]["schedules"] = [copy.deepcopy(data["provider"]["schedules"][0])]


def _person_user(data: dict) -> None:
    data["tenants"][0]["people"][0]["user"] = "globex-viewer"


def _layer_field(field, value):
    def change(data: dict) -> None:
        data["provider"]["schedules"][0]["layers"][0][field] = value

    return change


def _schedule_field(field, value):
    def change(data: dict) -> None:
        data["provider"]["schedules"][0][field] = value

    return change


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        (
            _layer_users(["eve", "nobody"]),
            ("provider", "schedules", 0, "layers", 0, "users", 1),
            "unknown user 'nobody'",
        ),
        # a tenant's client contact cannot be on a provider schedule (it serves every tenant)
        (_layer_users(["dana"]), ("provider", "schedules", 0, "layers", 0, "users", 0), "unknown user 'dana'"),
        (_steps("schedule:nope"), ("tenants", 0, "escalation", "steps", 0, "notify", 0), "unknown schedule 'nope'"),
        (_globex_steps, ("tenants", 1, "escalation", "steps", 0, "notify", 0), "unknown schedule 'acme-dba'"),
        (
            _steps("user:eve", "user:carol"),
            ("tenants", 0, "escalation", "steps", 0, "notify", 1),
            "pages 'carol', who is not in people",
        ),
        (_steps("nope"), ("tenants", 0), "escalation step names unknown notification targets: nope"),
        (_email_person, (), "e-mail contact methods need provider.smtp (people: eve)"),
        (
            _dupe_schedule,
            ("tenants", 1, "schedules", 0, "id"),
            "schedule ids must be unique across provider and tenants",
        ),
        (_person_user, ("tenants", 0, "people", 0, "user"), "'globex-viewer' has no API token"),
        (
            _layer_field("start", "2026-01-05T09:00:00+01:00"),
            ("provider", "schedules", 0, "layers", 0, "start"),
            "local date-time without an offset",
        ),
        (
            _layer_field("rotation", {"length": "0s"}),
            ("provider", "schedules", 0, "layers", 0, "rotation", "length"),
            "must be a positive duration",
        ),
        (_layer_field("users", []), ("provider", "schedules", 0, "layers", 0, "users"), "at least 1 item"),
        (_schedule_field("timezone", "Mars/Olympus"), ("provider", "schedules", 0, "timezone"), "unknown time zone"),
        (_schedule_field("id", "no.dots"), ("provider", "schedules", 0, "id"), "should match pattern"),
        (_schedule_field("fallback", "nobody"), ("provider", "schedules", 0, "fallback"), "unknown user 'nobody'"),
    ],
)
def test_oncall_mistakes_are_refused_with_their_place(change, loc, message):
    got_loc, got = refused(variant(change))
    assert got_loc == loc and message in got, (got_loc, got)


def test_a_contact_method_needs_its_address():
    def change(data: dict) -> None:
        data["provider"]["people"][1]["contact_methods"] = [{"kind": "webhook", "url": "https://sms.example/send"}]

    loc, message = refused(variant(change))
    assert loc == ("provider", "people", 1, "contact_methods", 0) and "secret_env (or secret)" in message


def test_config_check_names_where_an_oncall_mistake_is(tmp_path):
    from tests.libs.test_config import run_cli

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(variant(_steps("schedule:noc", "schedule:nope"))))
    result = run_cli("config", "check", str(bad))
    assert result.returncode == 1
    assert "tenants.0.escalation.steps.0.notify.1: unknown schedule 'nope'" in result.stderr


def test_a_config_version_names_the_schedules_and_people_it_changes():
    from libs.config.diff import changes, describe

    def change(data: dict) -> None:
        data["provider"]["schedules"][0]["layers"][0]["users"] = ["oscar", "eve"]
        data["provider"]["people"].append({"name": "zoe", "contact_methods": []})

    before, after = TierlineConfig.model_validate(RAW), TierlineConfig.model_validate(variant(change))
    diff = changes(before, after)
    assert diff["schedules"] == {"added": [], "removed": [], "changed": ["noc"]}
    assert diff["people"] == {"added": ["zoe"], "removed": [], "changed": []}
    assert describe(diff) == "schedules changed: noc; people added: zoe"
