"""The `octo` fixture: reporting with the known month's tenant and a second one, fed the month's events."""

from __future__ import annotations

import pytest
import yaml

from libs.bus import connect_bus
from libs.config import sha256_hex
from libs.events import Envelope
from tests.conftest import eventually
from tests.reporting import month


@pytest.fixture
async def octo(settings, start, tmp_path):
    """Reporting with a config holding the month's tenant and a second one, fed the month's events."""
    other = {
        **month.TENANT.model_dump(mode="json", exclude={"services"}),
        "id": "other",
        "code": "OTHER",
        "api_tokens": [{"user": "other-viewer", "role": "client_viewer", "token_sha256": sha256_hex("other-token")}],
    }
    octo = {
        **month.TENANT.model_dump(mode="json"),
        "api_tokens": [{"user": "octo-viewer", "role": "client_viewer", "token_sha256": sha256_hex("octo-token")}],
    }
    config = {
        "provider": {
            "name": "Test MSP",
            "contact": {"email": "desk@msp.example", "phone": "+44 20 7946 0000", "url": "https://msp.example/help"},
            "api_tokens": [{"user": "admin", "role": "provider_admin", "token_sha256": sha256_hex("admin-token")}],
        },
        "tenants": [octo, other],
    }
    path = tmp_path / "octo.yaml"
    path.write_text(yaml.safe_dump(config))
    mine = settings.model_copy(update={"config": path})
    svc = await start("reporting", mine)
    bus = await connect_bus(mine, name="test")
    try:
        envs = [
            Envelope(
                source="tierline/test",
                type=f"tierline.{kind}",
                time=at,
                tenant="octo",
                subject=data.get("incident_id") or data.get("change_id"),
                correlationid="c",
                data=data,
            )
            for kind, at, data in month.all_events()
        ]
        await bus.publish_many(envs)

        async def recorded():
            return await bus.lag("reporting") == 0

        await eventually(recorded)
    finally:
        await bus.close()
    return svc
