"""What a tenant runs and how its tools reach Tierline: configuration items and integration keys."""

from __future__ import annotations

import os
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from libs.config.base import (
    Category,
    Criticality,
    Duration,
    Sha256,
    Strict,
    Weekday,
)
from libs.config.contract import (
    Coverage,
)


class WeeklyMaintenance(Strict):
    """A weekly slot in which changes to a CI may run; `end` at or before `start` ends the next day."""

    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return Coverage._known_zone(v)


class ConfigurationItem(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    name: str
    category: Category
    criticality: Criticality = "medium"
    # Changes to this CI must fit in one of these (a conflict otherwise); none: any time.
    maintenance_windows: list[WeeklyMaintenance] = []
    rto: Duration | None = None  # recovery time objective: a restore test of this CI should finish within it


class Signature(Strict):
    """Optional HMAC-SHA256 signing of webhook requests for one integration.

    The secret cannot be stored hashed like the key (verifying a signature needs the secret itself), so it
    is read from an environment variable (`secret_env`, for production) or given inline (`secret`, demo/tests).
    """

    style: Literal["tierline", "grafana"] = "tierline"
    secret: str | None = Field(default=None, min_length=16, repr=False)
    secret_env: str | None = None
    # Defaults: tierline -> X-Tierline-Signature / X-Tierline-Timestamp;
    # grafana -> X-Grafana-Alert-Signature and no timestamp unless the contact point sets `timestamp_header`.
    header: str | None = None
    timestamp_header: str | None = None
    max_age: Duration = timedelta(minutes=5)  # replay window, either side of now

    @model_validator(mode="after")
    def _one_secret(self) -> Signature:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of `secret` or `secret_env`")
        if self.secret_env is not None and len(os.environ.get(self.secret_env, "")) < 16:
            raise ValueError(f"environment variable {self.secret_env} must hold the signing secret (16+ characters)")
        return self

    @property
    def key(self) -> bytes:
        return (self.secret if self.secret is not None else os.environ[self.secret_env or ""]).encode()


class RateLimit(Strict):
    """Per integration key, per intake process: a token bucket (requests, not alerts)."""

    per_second: Annotated[float, Field(gt=0)] = 50.0
    burst: Annotated[int, Field(ge=1)] = 500


class IntegrationKey(Strict):
    name: str
    key_sha256: Sha256
    ci: str | None = None  # a key bound to one CI fills in `ci` when the alert omits it
    revoked: bool = False
    signature: Signature | None = None
    rate_limit: RateLimit = RateLimit()
    # Which alert label names the CI (Alertmanager/Grafana labels, generic labels, PagerDuty custom_details);
    # and, for a provider-wide key only, which names the tenant.
    ci_label: str = "service"
    tenant_label: str = "tenant"
