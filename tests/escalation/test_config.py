"""tierline.yaml for SLA, escalation and notifications: each mistake is refused with the field it is in."""

from __future__ import annotations

import copy

import pytest
import yaml
from pydantic import ValidationError

from libs.config import TierlineConfig
from tests.conftest import TEST_CONFIG

RAW = yaml.safe_load(TEST_CONFIG.read_text())
HOOK = {"name": "ticketing", "kind": "webhook", "url": "https://tickets.example/hook", "secret_env": "HOOK_SECRET"}


def acme(**fields) -> dict:
    data = copy.deepcopy(RAW)
    data["tenants"][0].update(fields)
    return data


def error_of(data: dict) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as info:
        TierlineConfig.model_validate(data)
    [err] = info.value.errors(include_url=False)
    return err["loc"], err["msg"]


def test_a_full_sla_setup_reads_back():
    contract = {**RAW["tenants"][0]["contract"], "warn_at": [0.5, 0.8], "pause_on_vendor": True}
    escalation = {
        "repeat": 2,
        "steps": [{"tier": 1, "after": "15m", "notify": ["ticketing", "chat"]}, {"tier": 2, "after": "30m"}],
        "categories": {"security": {"steps": [{"tier": 2, "after": "5m", "group": "soc", "notify": ["chat"]}]}},
    }
    notifications = {
        "triggers": ["opened", "sla_breached"],
        "opened_priorities": ["P1"],
        "targets": [HOOK, {"name": "chat", "kind": "slack", "url": "https://hooks.slack.com/services/x"}],
    }
    cfg = TierlineConfig.model_validate(acme(contract=contract, escalation=escalation, notifications=notifications))
    t = cfg.tenant("acme")
    assert t.contract.warn_at == [0.5, 0.8] and t.contract.pause_on_vendor is True
    assert t.escalation.for_category("security")[0] == "category:security"
    assert t.escalation.for_category("network")[0:3:2] == ("default", 2)
    assert [n.name for n in t.notifications.targets] == ["ticketing", "chat"]


@pytest.mark.parametrize(
    ("fields", "loc", "message"),
    [
        ({"notifications": {"targets": [{**HOOK, "secret_env": None}]}}, ("tenants", 0, "notifications", "targets", 0),
         "needs secret_env (or secret)"),
        ({"notifications": {"targets": [{"name": "chat", "kind": "slack"}]}},
         ("tenants", 0, "notifications", "targets", 0), "a slack target needs a url"),
        ({"notifications": {"targets": [{**HOOK, "url": "ftp://x"}]}},
         ("tenants", 0, "notifications", "targets", 0, "url"), "should match pattern"),
        ({"notifications": {"targets": [HOOK, HOOK]}}, ("tenants", 0), "target names must be unique"),
        ({"notifications": {"triggers": ["paged"]}}, ("tenants", 0, "notifications", "triggers", 0), "Input should be"),
        ({"escalation": {"steps": [{"tier": 1, "after": "5m", "notify": ["nobody"]}]}}, ("tenants", 0),
         "unknown notification targets: nobody"),
        ({"escalation": {"repeat": 11}}, ("tenants", 0, "escalation", "repeat"), "less than or equal to 10"),
        ({"escalation": {"categories": {"printers": {"steps": [{"tier": 1, "after": "5m"}]}}}},
         ("tenants", 0, "escalation", "categories", "printers", "[key]"), "Input should be"),
    ],
)  # fmt: skip
def test_mistakes_name_their_field(fields, loc, message):
    found_loc, msg = error_of(acme(**fields))
    assert found_loc == loc and message in msg


@pytest.mark.parametrize(("warn_at", "message"), [([0.9, 0.75], "ascending"), ([1.0], "less than 1"), ([0], "greater")])
def test_warning_fractions(warn_at, message):
    data = acme()
    data["tenants"][0]["contract"]["warn_at"] = warn_at
    _, msg = error_of(data)
    assert message in msg


def test_email_targets_need_the_provider_mail_relay():
    data = acme(notifications={"targets": [{"name": "duty", "kind": "email", "to": ["duty@acme.example"]}]})
    loc, msg = error_of(data)
    assert loc == () and "need provider.smtp (tenants: acme)" in msg
    data["provider"]["smtp"] = {"host": "mail.msp.example", "sender": "tierline@msp.example"}
    assert TierlineConfig.model_validate(data).provider.smtp.port == 25
