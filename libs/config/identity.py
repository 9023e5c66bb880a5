"""Who is who across one config: tenant ids and codes, key and token hashes, and user names are each unique,
and every CAB member or delegate can vote (has a token). A user name is one person everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from libs.config.tenant import TierlineConfig


def check_identities(config: TierlineConfig) -> None:
    """Raises ValueError naming the first clash found."""
    for attr in ("id", "code"):
        values = [getattr(t, attr) for t in config.tenants]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"tenant {attr}s must be unique: {', '.join(dupes)}")
    keys = [k.key_sha256 for t in config.tenants for k in t.integration_keys] + [
        k.key_sha256 for k in config.provider.integration_keys
    ]
    tokens = [a.token_sha256 for t in config.tenants for a in t.api_tokens] + [
        a.token_sha256 for a in config.provider.api_tokens
    ]
    if len(set(keys)) != len(keys) or len(set(tokens)) != len(tokens):
        raise ValueError("an integration key or API token hash appears twice")
    # A user name is one person everywhere: CAB membership and approvals go by it.
    users = [(a.user, None) for a in config.provider.api_tokens] + [
        (a.user, t.id) for t in config.tenants for a in t.api_tokens
    ]
    for t in config.tenants:  # a member without a token could never vote: the quorum would be unreachable
        voters = {a.user for a in config.provider.api_tokens} | {a.user for a in t.api_tokens}
        members = set(t.cab.members).union(*[r.members or [] for r in t.cab.rules])
        if missing := sorted(members - voters):
            raise ValueError(f"tenant {t.id}: CAB members without an API token: {', '.join(missing)}")
        delegates = set(t.cab.delegates).union(*[r.delegates or [] for r in t.cab.rules])
        if missing := sorted(delegates - voters):
            raise ValueError(f"tenant {t.id}: CAB delegates without an API token: {', '.join(missing)}")
    known = {t.id for t in config.tenants}
    for a in config.provider.api_tokens:
        if a.role in ("client", "client_viewer", "client_approver"):
            raise ValueError(f"token {a.user!r}: a client token belongs under its tenant's api_tokens")
        if unknown := sorted(set(a.tenants or []) - known):
            raise ValueError(f"token {a.user!r} names unknown tenants: {', '.join(unknown)}")
    clash = sorted({u for u, scope in users if any(u == v and scope != w for v, w in users)})
    if clash:
        raise ValueError(f"token user names must be unique across provider and tenants: {', '.join(clash)}")
