"""Every Tierline service, by name: the registry the CLI, the supervisor and the gateway are given, so that
libs/ names no service. A service's process imports only its own spec (services/<name>/service.py: SERVICE)."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

from libs import cli
from libs.service import ServiceSpec

NAMES = ("intake", "triage", "escalation", "change", "reporting", "console")


@dataclass(frozen=True)
class Services:
    names: tuple[str, ...] = NAMES

    def spec(self, name: str) -> ServiceSpec:
        if name not in self.names:
            raise KeyError(name)
        spec: ServiceSpec = importlib.import_module(f"services.{name}.service").SERVICE
        return spec


REGISTRY = Services()


def main(argv: list[str] | None = None) -> None:
    """The `tierline` command."""
    cli.main(sys.argv[1:] if argv is None else argv, registry=REGISTRY)
