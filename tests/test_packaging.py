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
    # The default profile (`docker compose up`): the services without a profile.
    services = {n: s for n, s in compose["services"].items() if not s.get("profiles")}
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
    assert {"nats-data", "postgres-data"} <= set(compose["volumes"])
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


def test_compose_cluster_profile_is_three_nats_nodes_and_two_replicas_of_each_service():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    cluster = {n: s for n, s in compose["services"].items() if "cluster" in s.get("profiles", [])}
    nodes = {f"nats{i}" for i in (1, 2, 3)}
    assert set(cluster) == nodes | {"cluster-postgres"} | {f"cluster-{n}" for n in SERVICES}
    for name in nodes:  # each node: JetStream, its own store, one cluster, routes to the two others
        cmd = cluster[name]["command"]
        assert "-js" in cmd and cmd[cmd.index("--server_name") + 1] == name and "--cluster" in cmd
        assert cmd[cmd.index("--cluster_name") + 1] == "tierline"
        routes = set(cmd[cmd.index("--routes") + 1].split(","))
        assert routes == {f"nats://{n}:6222" for n in nodes - {name}}
        assert cluster[name]["volumes"] == [f"{name}-data:/data"] and "healthcheck" in cluster[name]
    ports: list[str] = []
    for name in SERVICES:
        svc = cluster[f"cluster-{name}"]
        assert svc["command"] == ["serve", name] and svc["deploy"]["replicas"] == 2
        env = svc["environment"]
        assert set(env["TIERLINE_NATS_URL"].split(",")) == {f"nats://{n}:4222" for n in nodes}
        assert env["TIERLINE_STREAM_REPLICAS"] == "3"
        assert "@cluster-postgres:" in env["TIERLINE_DATABASE_URL"]  # shares nothing with the default stack
        assert set(svc["depends_on"]) == nodes | {"cluster-postgres"}
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
        [published] = svc["ports"]  # a range of two host ports: one per replica
        low, high = published.split(":")[0].split("-")
        assert int(high) - int(low) == 1
        ports += [low, high]
    assert len(set(ports)) == len(ports)
    urls = json.loads(cluster["cluster-console"]["environment"]["TIERLINE_API_URLS"])
    assert urls == {n: f"http://cluster-{n}:8000" for n in SERVICES - {"console"}}
    # The single-node services are unchanged by the profile.
    assert compose["services"]["intake"]["environment"]["TIERLINE_NATS_URL"] == "nats://nats:4222"


def test_dockerfile_runs_tierline_and_checks_readiness():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["tierline"]' in text and "/readyz" in text and "USER tierline" in text


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "services", "--help"], capture_output=True, text=True, check=True)
    for command in ("up", "serve", "config"):
        assert command in out.stdout
