"""What a tenant's tools report besides alerts: heartbeats (a dead man's switch; backup jobs with an RPO) and
the compliance controls a scanner checks. Triage opens an incident when one goes silent or fails, reporting
measures them (docs/heartbeats.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from libs.config.base import Duration, OptionalDuration, Strict

SignalSeverity = Literal["critical", "error", "warning", "info"]  # the alert severities (libs.contracts.Severity)
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")]


class Heartbeat(Strict):
    """A signal expected every `expect_every`: silent past `grace` as well, it opens an incident on `ci`.

    `kind: backup` is a backup job: its beats say success or failed and carry a recovery point, and no good
    recovery point within `rpo` (plus `grace`) opens an incident too. `alertmanager_alertname` lets an
    Alertmanager alert of that name (Watchdog, DeadMansSwitch) count as a beat instead of an alert."""

    name: Name
    expect_every: Duration
    grace: OptionalDuration = timedelta(0)
    ci: str | None = None
    severity: SignalSeverity = "critical"
    kind: Literal["heartbeat", "backup"] = "heartbeat"
    rpo: Duration | None = None
    alertmanager_alertname: Annotated[str, Field(min_length=1, max_length=255)] | None = None

    @model_validator(mode="after")
    def _backup_fields(self) -> Heartbeat:
        if self.kind == "backup" and (self.rpo is None or self.ci is None):
            raise ValueError("a backup heartbeat needs `rpo` and the `ci` it backs up")
        if self.kind != "backup" and self.rpo is not None:
            raise ValueError("`rpo` is for `kind: backup` only")
        return self


class Control(Strict):
    """A compliance control checked on each CI in scope every `check_every`; a scanner posts the results."""

    id: Name
    title: str | None = None
    framework_ref: Annotated[str, Field(min_length=1, max_length=255)]  # e.g. "HIPAA 164.312(b)", "CIS 5.2"
    cis: Annotated[list[str], Field(min_length=1)]
    check_every: Duration
    incident_on_fail: bool = False
    severity: SignalSeverity = "error"


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("reference", message), loc=loc, input=value)


def check_signals(heartbeats: list[Heartbeat], controls: list[Control], cis: Iterable[str]) -> None:
    """Cross-checks within a tenant, each error at its own path (`heartbeats.1.ci`): unique names and ids,
    known CIs, one heartbeat per Alertmanager alert name."""
    known, errors = set(cis), []
    names: set[str] = set()
    alertnames: dict[str, str] = {}
    for i, h in enumerate(heartbeats):
        if h.name in names:
            errors.append(_error(("heartbeats", i, "name"), f"heartbeat names must be unique: {h.name!r}", h.name))
        names.add(h.name)
        if h.ci is not None and h.ci not in known:
            errors.append(_error(("heartbeats", i, "ci"), f"names unknown service {h.ci!r}", h.ci))
        if (am := h.alertmanager_alertname) is not None:
            if am in alertnames:
                why = f"alert name {am!r} already counts as a beat of {alertnames[am]!r}"
                errors.append(_error(("heartbeats", i, "alertmanager_alertname"), why, am))
            alertnames[am] = h.name
    ids: set[str] = set()
    for i, c in enumerate(controls):
        if c.id in ids:
            errors.append(_error(("controls", i, "id"), f"control ids must be unique: {c.id!r}", c.id))
        ids.add(c.id)
        for j, ci in enumerate(c.cis):
            if ci not in known:
                errors.append(_error(("controls", i, "cis", j), f"names unknown service {ci!r}", ci))
    if errors:
        raise ValidationError.from_exception_data("Tenant", errors)
