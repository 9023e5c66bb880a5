"""Process settings from TIERLINE_* environment variables (tenant data lives in tierline.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def nats_servers(url: str) -> list[str]:
    """The server URLs of TIERLINE_NATS_URL: one, or several separated by commas (a cluster's nodes)."""
    return [u.strip() for u in url.split(",") if u.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIERLINE_", extra="ignore")

    # Empty means "start our own" (the embedded local stack); a URL means "use that one". For a NATS cluster,
    # several URLs separated by commas: the client connects to any and fails over to the others.
    nats_url: str | None = None
    database_url: str | None = None
    config: Path = Path("tierline.yaml")
    data_dir: Path = Path(".tierline")
    # Server settings of our own PostgreSQL over libs.localstack's laptop-sized ones (JSON, e.g.
    # {"shared_buffers": "256MB"}); ignored when TIERLINE_DATABASE_URL names a server.
    local_postgres_settings: dict[str, str] = {}

    http_host: str = "127.0.0.1"
    # Port of the single base URL `tierline up` prints; 0 picks a free one.
    http_port: int = 7480
    # Port of one service started with `tierline serve NAME`; 0 picks a free one.
    service_port: int = 8000
    # HTTPS on the public port (the base URL of `tierline up`, or one `tierline serve NAME`) when both are set.
    # PagerDuty's client libraries refuse plain http, so point them at an https URL (this, or your TLS proxy).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    # Intake's SMTP listener (alerts and requests by e-mail, docs/email.md): 0 is off for `tierline serve`;
    # `tierline up` uses this port when set, else any free one, and prints it. Mails over the limit get 552.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=0, ge=0, le=65535)
    smtp_max_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Subject prefix and stream-name stem; tests set a fresh one each so they never collide.
    bus_prefix: str = Field(default="tierline", pattern=r"^[a-z][a-z0-9_]*$")
    stream_max_age_days: float = 90.0
    # Copies of each stream and key-value bucket Tierline creates, one per NATS cluster node (3 for a three-node
    # cluster: losing one node loses nothing and stops nothing). 1 for a single nats-server.
    stream_replicas: int = Field(default=1, ge=1, le=5)
    duplicate_window_s: float = 600.0

    batch_size: int = Field(default=256, ge=1, le=2000)
    # After a batch smaller than batch_size a consumer waits this long before it fetches again, so what arrives
    # meanwhile shares one transaction instead of one each (a message after a quiet spell is taken at once).
    # Costs each hop at most this much latency; 0 fetches again at once. Background consumers (reporting's
    # ledger, change's incident links: nobody waits on them within seconds) wait the longer background_linger_ms.
    batch_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    background_linger_ms: float = Field(default=200.0, ge=0, le=5000)
    max_deliveries: int = Field(default=5, ge=1)
    redelivery_backoff_s: list[float] = [0.5, 2.0, 5.0, 15.0, 30.0]
    # While PostgreSQL or NATS is unusable a consumer holds its batch and probes again after each of these
    # delays (the last repeats): an outage costs a message none of its deliveries, however long it lasts.
    dependency_backoff_s: list[float] = Field(default=[0.5, 1.0, 2.0, 5.0], min_length=1)
    # A message fetched but not acknowledged (its process died, or NATS restarted) comes back after this;
    # a batch still being handled when it does is skipped by the inbox, so short is safe.
    ack_wait_s: float = 10.0

    # How long a service remembers the ids of events it has applied (its inbox); redeliveries come within
    # minutes, so a week is generous.
    inbox_retention_days: float = Field(default=7.0, gt=0)

    # Overload guard: intake answers 503 + Retry-After when triage's consumer lags by more than this many
    # messages, or when the oldest alert triage has not yet taken is older than this many seconds (a stalled
    # triage reaches that within seconds, whatever the rate; the count alone let a 20 s stall pass unnoticed).
    intake_max_lag: int = Field(default=20_000, ge=1)
    intake_max_lag_s: float = Field(default=5.0, gt=0)
    timer_poll_s: float = Field(default=0.2, gt=0)
    # Outbound notifications: attempts before the dead-letter record, first retry delay (doubling), timeout.
    notify_max_attempts: int = Field(default=8, ge=1, le=30)
    notify_backoff_s: float = Field(default=2.0, gt=0)
    notify_timeout_s: float = Field(default=10.0, gt=0)

    # The console (services/console): how it reaches the other services' APIs, and the key that seals the
    # API tokens its sessions keep. `tierline up` sets both; see docs/console.md.
    api_url: str | None = None  # one base URL that routes /v1/... as the gateway does
    api_urls: dict[str, str] = {}  # or service -> base URL (compose: {"triage": "http://triage:8000", ...})
    console_secret: str | None = None  # unset: a random key per process (sessions end when it restarts)
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # On-call (docs/oncall.md): the key iCalendar feed URLs are derived from (`tierline up` keeps one in the data
    # directory; unset for `tierline serve escalation`: random per start, so feed URLs change on restart), how
    # long a page's acknowledge and resolve links work, and the base URL people open them at (`tierline up`:
    # its own; unset otherwise: the URL the service listens on).
    oncall_secret: str | None = None
    ack_link_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    public_url: str | None = None
    # The stack instance `tierline up` started this process for (a fresh id per start), shown by /readyz so the
    # gateway never takes a stranger on a reused port, or a leftover of another start, for its service.
    instance_id: str = "standalone"
    # Where a service writes the port it bound (TIERLINE_SERVICE_PORT may be 0) once it listens: how its
    # supervisor learns it. Unset: not written.
    port_file: Path | None = None

    log_level: str = "info"
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
