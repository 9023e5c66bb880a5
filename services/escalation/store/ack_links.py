"""SQL of `ack_links`: the hashes of the acknowledge and resolve links pages carry, each used at most once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import asyncpg

from services.escalation.domain.acklinks import AckLink
from services.escalation.store import arrays

_NAMES = tuple(f.name for f in fields(AckLink) if f.name != "used_at")


async def issue(conn: asyncpg.Connection, links: Sequence[AckLink]) -> None:
    if not links:
        return
    await conn.execute(
        f"INSERT INTO ack_links ({', '.join(_NAMES)}) SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[],"
        " $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::timestamptz[],"
        " $11::timestamptz[])",
        *arrays(links, _NAMES),
    )


async def find(conn: asyncpg.Connection, *, token_sha256: str, lock: bool = False) -> AckLink | None:
    row = await conn.fetchrow(
        "SELECT * FROM ack_links WHERE token_sha256 = $1" + (" FOR UPDATE" if lock else ""), token_sha256
    )
    if row is None:
        return None
    values = dict(row) | {"incident_id": str(row["incident_id"]), "notification_id": str(row["notification_id"])}
    return AckLink(**values)


async def use(conn: asyncpg.Connection, link: AckLink) -> None:
    await conn.execute("UPDATE ack_links SET used_at = $2 WHERE token_sha256 = $1", link.token_sha256, link.used_at)


async def prune(conn: asyncpg.Connection, *, older_than_days: float) -> int:
    """Forget links expired this long ago (a use of one then says it is unknown rather than expired)."""
    status = await conn.execute(
        "DELETE FROM ack_links WHERE expires_at < now() - make_interval(days => $1)", int(older_than_days)
    )
    return int(status.rsplit(" ", 1)[-1])
