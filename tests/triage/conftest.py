"""Triage tests run against their own config (tests/triage/fixtures/triage.yaml): the rules under test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libs.settings import Settings
from libs.testing import Servers, drop_database, fresh_database, fresh_settings

TRIAGE_CONFIG = Path(__file__).parent / "fixtures" / "triage.yaml"


@pytest.fixture
async def tsettings(real_servers: Servers) -> AsyncIterator[Settings]:
    db_url, name = await fresh_database(real_servers.admin_db_url)
    yield fresh_settings(real_servers, db_url, TRIAGE_CONFIG)
    await drop_database(real_servers.admin_db_url, name)
