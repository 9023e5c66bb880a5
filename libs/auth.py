"""API tokens: a bearer token maps (by its SHA-256) to a user, a role and, for client tokens, one tenant."""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from typing import get_args

from aiohttp import web

from libs.config import Role, TierlineConfig, sha256_hex
from libs.errors import ApiError

PROVIDER_ROLES = {"provider_admin", "engineer", "change_manager", "cab_member", "agent", "manager", "admin"}
# The incident desk's role names and the older ones they stand for, so a check written with either holds:
# an `admin` may do what a `provider_admin` may, an `agent` what an `engineer` may, and so on.
EQUIVALENT: dict[str, set[str]] = {
    "admin": {"provider_admin"},
    "provider_admin": {"admin"},
    "manager": {"engineer", "change_manager"},
    "agent": {"engineer"},
    "engineer": {"agent"},
    "client": {"client_viewer"},
    "client_viewer": {"client"},
}


def _holds(role: str, roles: set[str]) -> bool:
    return bool(({role} | EQUIVALENT.get(role, set())) & roles)


def allowed_roles(roles: set[str]) -> list[str]:
    """Every role name the config accepts whose holder passes a check for `roles`, sorted: what a 403 names.

    One vocabulary everywhere: a check written with `{"agent", "manager", "admin"}` names `engineer` and
    `provider_admin` too, because their holders pass it, exactly as a check written with the older names would.
    """
    return sorted(r for r in get_args(Role) if _holds(r, roles))


@dataclass(frozen=True)
class Principal:
    user: str
    role: str
    tenant: str | None  # None: a provider token, which may act on every tenant (or those in `scope`)
    scope: frozenset[str] | None = None  # a provider token limited to these tenants
    tier: int | None = None  # an agent's support tier

    def can_see(self, tenant: str) -> bool:
        if self.tenant is not None:
            return self.tenant == tenant
        return self.scope is None or tenant in self.scope

    def has_role(self, roles: set[str]) -> bool:
        return _holds(self.role, roles)

    def require_tenant(self, tenant: str) -> None:
        # A client token must not learn whether another tenant's object exists: answer 404, not 403.
        if not self.can_see(tenant):
            raise ApiError(404, "not_found", "no such object")


def token_index(config: TierlineConfig) -> dict[str, Principal]:
    index = {
        t.token_sha256: Principal(t.user, t.role, None, frozenset(t.tenants) if t.tenants is not None else None, t.tier)
        for t in config.provider.api_tokens
    }
    for tenant in config.tenants:
        for t in tenant.api_tokens:
            index[t.token_sha256] = Principal(t.user, t.role, tenant.id)
    return index


READS = {"GET", "HEAD"}


def _token(request: web.Request) -> str | None:
    """The API token: `Authorization: Bearer <token>`, or for reads only Basic auth with the token as password.

    Basic lets a browser open a report page (it asks for a user name and password; the password is the
    token). Only on reads: a browser re-sends cached Basic credentials on its own, so accepting them on a
    POST would let another site's form act as the user.
    """
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and request.method in READS:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            password = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
            return password or None
    return None


def _challenge(request: web.Request) -> dict[str, str]:
    if request.method in READS:  # lets a browser prompt for the token
        return {"WWW-Authenticate": 'Basic realm="Tierline", charset="UTF-8"'}
    return {"WWW-Authenticate": 'Bearer realm="Tierline"'}


def authenticate(request: web.Request, tokens: dict[str, Principal], *, roles: set[str] | None = None) -> Principal:
    """The request's principal, or 401 (no/unknown token) / 403 (role not allowed)."""
    token = _token(request)
    if token is None:
        raise ApiError(
            401,
            "unauthenticated",
            "send an API token as 'Authorization: Bearer <token>' (for reads also Basic auth, the token as password)",
            headers=_challenge(request),
        )
    principal = tokens.get(sha256_hex(token))
    if principal is None:
        raise ApiError(401, "unauthenticated", "unknown API token", headers=_challenge(request))
    if roles is not None:
        require_role(principal, roles)
    return principal


def require_role(principal: Principal, roles: set[str]) -> None:
    """403 unless the principal holds one of `roles` (for a check made after a tenant wall's 404)."""
    if not principal.has_role(roles):
        details = [{"allowed_roles": allowed_roles(roles)}]
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not do this", details)
