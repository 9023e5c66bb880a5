"""Whose fault a failure is, pure: the message's, or the infrastructure's (PostgreSQL or NATS away, a pool
exhausted, a timeout), or a transaction that lost a race and only needs running again.

A message that failed because the database was unreachable is not poison: counting such failures toward
its dead-letter limit lost 1,035 accepted alerts in a 30 s PostgreSQL outage (issue 11). The consumer waits
for its dependencies on `dependency`, retries at once on `retry_now`, and counts only `message`.
"""

from __future__ import annotations

import errno
from typing import Literal

import asyncpg
import nats.errors
import nats.js.errors

Fault = Literal["message", "dependency", "retry_now"]

# Lost a race with another transaction: the same work succeeds when run again.
_RETRY_NOW = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
# The server is away, restarting, refusing us, out of resources, or an operator ended our session/query.
_DEPENDENCY = (
    asyncpg.PostgresConnectionError,  # connection does not exist / failure / rejected
    asyncpg.InterfaceError,  # the connection closed under us, a pool that is closing
    asyncpg.InsufficientResourcesError,  # too many connections, disk full, out of memory
    asyncpg.OperatorInterventionError,  # cannot connect now (starting up), admin/crash shutdown, query cancelled
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # asyncio's and nats' timeouts are TimeoutError too
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.NoRespondersError,  # JetStream not answering (yet): a restart in progress
    nats.js.errors.ServiceUnavailableError,
)
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
}  # fmt: skip


def classify(exc: BaseException) -> Fault:
    """`dependency` or `retry_now` if `exc`, or an exception it was raised from, says so; else `message`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _RETRY_NOW):
            return "retry_now"
        if isinstance(current, _DEPENDENCY):
            return "dependency"
        if isinstance(current, OSError) and current.errno in _NETWORK_ERRNOS:
            return "dependency"
        current = current.__cause__ or current.__context__
    return "message"


def is_infrastructure(exc: BaseException) -> bool:
    """True for a failure that says nothing about the request or message being handled."""
    return classify(exc) != "message"
