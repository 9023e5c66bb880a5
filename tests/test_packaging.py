"""The files a new user or an operator touches first: compose.yaml, Dockerfile, the console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"intake", "triage", "escalation", "change", "reporting", "console"}


def test_compose_describes_the_whole_stack():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())  # merge keys (<<) resolved by PyYAML
    services = compose["services"]
    assert set(services) == SERVICES | {"nats", "postgres"}
    assert "-js" in services["nats"]["command"] and services["nats"]["volumes"]
    assert services["postgres"]["volumes"] and "healthcheck" in services["postgres"]
    for name in SERVICES:
        svc = services[name]
        assert svc["command"] == ["serve", name]
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
        env = svc["environment"]
        assert env["TIERLINE_NATS_URL"].startswith("nats://nats:") and "@postgres:" in env["TIERLINE_DATABASE_URL"]
        assert set(svc["depends_on"]) == {"nats", "postgres"}
    assert set(compose["volumes"]) == {"nats-data", "postgres-data"}
    # The console reaches every API service by its compose name, and keeps its sessions' key from outside.
    console = services["console"]
    assert console["ports"] == ["8006:8000"]
    urls = json.loads(console["environment"]["TIERLINE_API_URLS"])
    assert urls == {n: f"http://{n}:8000" for n in SERVICES - {"console"}}
    assert "TIERLINE_CONSOLE_SECRET" in console["environment"]
    # Intake's SMTP listener (docs/email.md) listens on every interface of its container, and is published.
    intake = services["intake"]
    assert intake["ports"] == ["8001:8000", "2525:2525"]
    env = intake["environment"]
    assert (env["TIERLINE_SMTP_HOST"], env["TIERLINE_SMTP_PORT"]) == ("0.0.0.0", "2525")


def test_dockerfile_runs_tierline_and_checks_readiness():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["tierline"]' in text and "/readyz" in text and "USER tierline" in text


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "services", "--help"], capture_output=True, text=True, check=True)
    for command in ("up", "serve", "config"):
        assert command in out.stdout
