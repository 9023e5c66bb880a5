"""API tokens: a bearer token maps (by its SHA-256) to a user, a role and, for client tokens, one tenant."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from libs.config import TierlineConfig, sha256_hex
from libs.errors import ApiError

PROVIDER_ROLES = {"provider_admin", "engineer", "change_manager", "cab_member"}


@dataclass(frozen=True)
class Principal:
    user: str
    role: str
    tenant: str | None  # None: a provider token, which may act on every tenant

    def can_see(self, tenant: str) -> bool:
        return self.tenant is None or self.tenant == tenant

    def require_tenant(self, tenant: str) -> None:
        # A client token must not learn whether another tenant's object exists: answer 404, not 403.
        if not self.can_see(tenant):
            raise ApiError(404, "not_found", "no such object")


def token_index(config: TierlineConfig) -> dict[str, Principal]:
    index = {t.token_sha256: Principal(t.user, t.role, None) for t in config.provider.api_tokens}
    for tenant in config.tenants:
        for t in tenant.api_tokens:
            index[t.token_sha256] = Principal(t.user, t.role, tenant.id)
    return index


def authenticate(request: web.Request, tokens: dict[str, Principal], *, roles: set[str] | None = None) -> Principal:
    """The request's principal, or 401 (no/unknown token) / 403 (role not allowed)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "send an API token as 'Authorization: Bearer <token>'")
    principal = tokens.get(sha256_hex(token.strip()))
    if principal is None:
        raise ApiError(401, "unauthenticated", "unknown API token")
    if roles is not None and principal.role not in roles:
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not do this", [{"allowed_roles": sorted(roles)}])
    return principal
