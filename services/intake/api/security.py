"""Who may send: integration keys from any header a monitoring tool can set, HMAC signatures, rate limits.

Pure functions over headers, bytes and clocks, so every rule is tested without a server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from libs.config import RateLimit, Signature
from libs.errors import ApiError

TIERLINE_SIGNATURE = "X-Tierline-Signature"
TIERLINE_TIMESTAMP = "X-Tierline-Timestamp"
GRAFANA_SIGNATURE = "X-Grafana-Alert-Signature"


def key_from_headers(headers: Mapping[str, str], path_key: str | None = None) -> str | None:
    """The integration key: in the path, `X-Tierline-Key`, or `Authorization` with any scheme.

    Alertmanager's http_config sends `Bearer <key>` or Basic auth; Grafana sends `<scheme> <credentials>`
    (scheme configurable) or Basic auth. With Basic auth the key is the password (or the user name when the
    password is empty, for tools that only have one field).
    """
    if path_key:
        return path_key
    if key := headers.get("X-Tierline-Key", "").strip():
        return key
    scheme, _, cred = headers.get("Authorization", "").strip().partition(" ")
    cred = cred.strip()
    if not scheme or not cred:
        return None
    if scheme.lower() != "basic":
        return cred
    try:
        user, _, password = base64.b64decode(cred, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or user or None


def _unauthorised(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


def verify_signature(sig: Signature, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
    """Raise 401 unless the request carries a valid, fresh HMAC-SHA256 signature of its raw body.

    tierline style: `X-Tierline-Timestamp: <unix seconds>` and `X-Tierline-Signature: sha256=<hex>` over
    `<timestamp>.<body>`. grafana style: `X-Grafana-Alert-Signature: <hex>` over `[<timestamp>:]<body>`, the
    timestamp from the contact point's configured timestamp header, when it has one.
    """
    now = time.time() if now is None else now
    grafana = sig.style == "grafana"
    header = sig.header or (GRAFANA_SIGNATURE if grafana else TIERLINE_SIGNATURE)
    ts_header = sig.timestamp_header or (None if grafana else TIERLINE_TIMESTAMP)
    given = headers.get(header, "").strip()
    if not given:
        raise _unauthorised("signature_required", f"this integration signs its requests: send {header}")
    message = body
    if ts_header:
        raw_ts = headers.get(ts_header, "").strip()
        try:
            ts = int(raw_ts)
        except ValueError:
            raise _unauthorised("signature_required", f"send the signing time (unix seconds) in {ts_header}") from None
        if abs(now - ts) > sig.max_age.total_seconds():
            raise _unauthorised("stale_signature", "the signature's timestamp is outside the replay window")
        message = f"{raw_ts}{':' if grafana else '.'}".encode() + body
    expected = hmac.new(sig.key, message, hashlib.sha256).hexdigest()
    presented = given.removeprefix("sha256=").lower()
    if not hmac.compare_digest(expected.encode(), presented.encode()):
        raise _unauthorised("bad_signature", "the request signature does not match its body")


def sign(secret: str, body: bytes, *, timestamp: int, style: str = "tierline") -> str:
    """What a sender puts in the signature header (documented; used by tests and the README example)."""
    sep = ":" if style == "grafana" else "."
    digest = hmac.new(secret.encode(), f"{timestamp}{sep}".encode() + body, hashlib.sha256).hexdigest()
    return digest if style == "grafana" else f"sha256={digest}"


@dataclass
class Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """Token buckets per integration key. Per intake process: N replicas admit up to N times the rate."""

    buckets: dict[str, Bucket] = field(default_factory=dict)

    def take(self, key: str, limit: RateLimit, *, now: float | None = None) -> float:
        """0 when the request may pass; else the seconds to wait before retrying (for Retry-After)."""
        now = time.monotonic() if now is None else now
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = Bucket(tokens=float(limit.burst), at=now)
        b.tokens = min(float(limit.burst), b.tokens + (now - b.at) * limit.per_second)
        b.at = now
        if b.tokens >= 1:
            b.tokens -= 1
            return 0.0
        return (1 - b.tokens) / limit.per_second


def retry_after(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
