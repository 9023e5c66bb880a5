"""What every handler of change's API starts from: the app state, who may do what, the request body, the
change a caller may see, and the mapping of the domain's refusals to HTTP answers."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from libs.auth import Principal
from libs.config import Tenant, TierlineConfig
from libs.errors import ApiError
from libs.lifecycle import IllegalTransition
from libs.outbox import Outbox
from services.change import store
from services.change.domain.changes import ChangeRefused, ChangeRequest

REQUESTERS = {"provider_admin", "engineer", "change_manager"}
MANAGERS = {"provider_admin", "change_manager"}
# CAB membership is the real gate for votes; a client_viewer token is read-only whatever its user name.
VOTERS = {"provider_admin", "engineer", "change_manager", "cab_member", "client_approver"}


@dataclass
class ChangeState:
    pool: asyncpg.Pool
    outbox: Outbox


def tenant_for(config: TierlineConfig, change: ChangeRequest) -> Tenant:
    tenant = config.tenant(change.tenant)
    if tenant is None:  # a tenant dropped from config: its changes can be read, not moved
        raise ApiError(409, "unknown_tenant", f"tenant {change.tenant} is no longer configured")
    return tenant


STATE: web.AppKey[ChangeState] = web.AppKey("change", ChangeState)


def refusal(exc: ChangeRefused | IllegalTransition) -> ApiError:
    """A rule's refusal as the client sees it: its code and status, and what would have been allowed."""
    if isinstance(exc, IllegalTransition):
        return ApiError(409, exc.code, str(exc), [{"allowed": exc.allowed}])
    return ApiError(exc.status, exc.code, str(exc), exc.details)


async def visible(conn: asyncpg.Connection, ref: str, who: Principal, *, lock: bool = False) -> ChangeRequest:
    change = await store.get_change(conn, ref=ref, lock=lock)
    if change is None or not who.can_see(change.tenant):
        raise ApiError(404, "not_found", f"no change {ref}")
    return change
