"""A 403 names the roles that may act in the config's own vocabulary, the same way in every service."""

from __future__ import annotations

from typing import get_args

import pytest

from libs.auth import Principal, allowed_roles
from libs.config import Role

INCIDENT_DESK = {"agent", "manager", "admin"}  # how triage writes its check
CHANGE_REQUESTERS = {"provider_admin", "engineer", "change_manager"}  # how change writes its check


def test_allowed_roles_are_every_config_role_that_passes_the_check():
    assert allowed_roles(INCIDENT_DESK) == ["admin", "agent", "engineer", "manager", "provider_admin"]
    assert allowed_roles(CHANGE_REQUESTERS) == [
        "admin", "agent", "change_manager", "engineer", "manager", "provider_admin",
    ]  # fmt: skip
    # A check written with the older name lists the newer one too, and the other way round.
    assert allowed_roles({"provider_admin"}) == allowed_roles({"admin"}) == ["admin", "provider_admin"]


@pytest.mark.parametrize("roles", [INCIDENT_DESK, CHANGE_REQUESTERS, {"cab_member"}, {"client"}])
def test_a_listed_role_passes_and_an_unlisted_one_does_not(roles):
    listed = allowed_roles(roles)
    for role in get_args(Role):
        assert Principal("u", role, None).has_role(roles) == (role in listed), role
