"""tierline.yaml's mail settings: every address is one tenant's, names what exists, and every pattern compiles."""

from __future__ import annotations

import pytest

from libs.config import MailRoute, load_config
from tests.conftest import TEST_CONFIG
from tests.libs.test_config import DEMO_CONFIG, only_error, raw


def test_test_config_mail_addresses():
    routes = load_config(TEST_CONFIG).mail_routes
    assert routes == {
        "acme+alerts": MailRoute("acme", "alert", "acme+alerts"),
        "acme+requests": MailRoute("acme", "request", "acme+requests"),
        "db-monitor": MailRoute("acme", "alert", "db-monitor", "db-monitor"),
        "globex+alerts": MailRoute("globex", "alert", "globex+alerts"),
    }  # `old` is named too, but its key is revoked: its address is no address


def test_demo_config_has_the_documented_addresses():
    routes = load_config(DEMO_CONFIG).mail_routes
    assert {"acme+alerts", "acme+requests", "db-monitor"} <= set(routes)


def test_an_address_is_one_tenants():
    data = raw()
    data["tenants"][1]["mail"]["alerts"] = "acme+alerts"
    loc, msg = only_error(data)
    assert loc == () and "mail address 'acme+alerts' is used twice (tenants: acme, globex)" in msg


def test_mail_addresses_need_the_provider_domain():
    data = raw()
    del data["provider"]["mail"]
    loc, msg = only_error(data)
    assert loc == () and "need provider.mail.domain (tenants: acme, globex)" in msg


def test_an_integration_address_names_a_key_of_the_tenant():
    data = raw()
    data["tenants"][1]["mail"]["integrations"] = ["prometheus"]  # acme's key, not globex's
    loc, msg = only_error(data)
    assert loc == ("tenants", 1) and "mail.integrations names unknown integration keys: prometheus" in msg


@pytest.mark.parametrize(
    ("where", "value", "loc", "says"),
    [
        (("rules", "resolved"), "^(RESOLVED", ("rules", "resolved"), "not a regular expression"),
        (("rules", "severity"), [{"pattern": "[", "severity": "critical"}], ("rules", "severity", 0, "pattern"),
         "not a regular expression"),
        (("alerts",), "Acme Alerts", ("alerts",), "should match pattern"),
    ],
)  # fmt: skip
def test_bad_mail_settings_name_their_field(where, value, loc, says):
    data = raw()
    target = data["tenants"][0]["mail"]
    for k in where[:-1]:
        target = target[k]
    target[where[-1]] = value
    found, msg = only_error(data)
    assert found == ("tenants", 0, "mail", *loc) and says in msg
