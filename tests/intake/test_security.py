"""Keys from any header a tool can set, HMAC signatures with a replay window, per-key rate limits (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from libs.config import RateLimit, Signature
from libs.errors import ApiError
from services.intake.api.security import RateLimiter, key_from_headers, retry_after, sign, verify_signature

BODY = b'{"summary":"disk full"}'
NOW = 1_800_000_000


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("headers", "path_key", "key"),
    [
        ({}, "in-path", "in-path"),
        ({"X-Tierline-Key": "k1"}, None, "k1"),
        ({"Authorization": "Bearer k2"}, None, "k2"),  # Alertmanager http_config bearer/authorization
        ({"Authorization": "Token k3"}, None, "k3"),  # Grafana's configurable scheme
        ({"Authorization": basic("alertmanager", "k4")}, None, "k4"),
        ({"Authorization": basic("k5", "")}, None, "k5"),
        ({"Authorization": "Basic !!notbase64"}, None, None),
        ({"Authorization": "Bearer"}, None, None),
        ({}, None, None),
    ],
)
def test_key_from_headers(headers, path_key, key):
    assert key_from_headers(headers, path_key) == key


TIERLINE = Signature(secret="s" * 16)
GRAFANA = Signature(style="grafana", secret="g" * 16, timestamp_header="X-Grafana-Alert-Timestamp")
GRAFANA_NO_TS = Signature(style="grafana", secret="g" * 16)


def signed_headers(sig: Signature, *, ts: int = NOW, body: bytes = BODY) -> dict[str, str]:
    secret = sig.secret or ""
    if sig.style == "tierline":
        return {"X-Tierline-Timestamp": str(ts), "X-Tierline-Signature": sign(secret, body, timestamp=ts)}
    if not sig.timestamp_header:  # Grafana without a timestamp header signs the body alone
        return {"X-Grafana-Alert-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    value = sign(secret, body, timestamp=ts, style="grafana")
    return {"X-Grafana-Alert-Signature": value, sig.timestamp_header: str(ts)}


@pytest.mark.parametrize("sig", [TIERLINE, GRAFANA, GRAFANA_NO_TS], ids=["tierline", "grafana", "grafana-no-ts"])
def test_valid_signatures_pass(sig):
    verify_signature(sig, signed_headers(sig), BODY, now=NOW + 10)


@pytest.mark.parametrize(
    ("sig", "mutate", "code"),
    [
        (TIERLINE, lambda h: {}, "signature_required"),
        (TIERLINE, lambda h: {**h, "X-Tierline-Timestamp": "soon"}, "signature_required"),
        (TIERLINE, lambda h: {**h, "X-Tierline-Signature": "sha256=" + "0" * 64}, "bad_signature"),
        (TIERLINE, lambda h: {**h, "X-Tierline-Timestamp": str(NOW + 1)}, "bad_signature"),  # ts is signed
        (GRAFANA, lambda h: {**h, "X-Grafana-Alert-Timestamp": str(NOW - 1)}, "bad_signature"),
        (GRAFANA, lambda h: {"X-Grafana-Alert-Signature": h["X-Grafana-Alert-Signature"]}, "signature_required"),
    ],
)
def test_bad_signatures_are_401(sig, mutate, code):
    with pytest.raises(ApiError) as exc:
        verify_signature(sig, mutate(signed_headers(sig)), BODY, now=NOW)
    assert (exc.value.status, exc.value.code) == (401, code)


def test_tampered_body_fails():
    with pytest.raises(ApiError, match="does not match"):
        verify_signature(TIERLINE, signed_headers(TIERLINE), BODY + b" ", now=NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_replay_window_is_five_minutes_either_side(skew):
    verify_signature(TIERLINE, signed_headers(TIERLINE), BODY, now=NOW + 299)
    with pytest.raises(ApiError) as exc:
        verify_signature(TIERLINE, signed_headers(TIERLINE), BODY, now=NOW + skew)
    assert exc.value.code == "stale_signature"


def test_signature_config_needs_exactly_one_secret(monkeypatch):
    with pytest.raises(ValueError, match="exactly one"):
        Signature()
    with pytest.raises(ValueError, match="TL_SECRET"):
        Signature(secret_env="TL_SECRET")
    monkeypatch.setenv("TL_SECRET", "from-the-environment-1")
    assert Signature(secret_env="TL_SECRET").key == b"from-the-environment-1"


def test_rate_limiter_bucket_per_key():
    limiter, limit = RateLimiter(), RateLimit(per_second=2, burst=3)
    assert [limiter.take("a", limit, now=0) for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("a", limit, now=0)
    assert wait == pytest.approx(0.5) and retry_after(wait) == "1"
    assert limiter.take("b", limit, now=0) == 0  # another key has its own bucket
    assert limiter.take("a", limit, now=0.5) == 0  # refilled at 2/s
    assert limiter.take("a", limit, now=0.5) > 0
    assert [limiter.take("a", limit, now=100) for _ in range(4)][:3] == [0, 0, 0]  # never above the burst
