"""What a service tells the rest of Tierline about itself: its name, how to build it, the API path prefixes
it serves (the gateway routes them to it), and the `tierline <name> <command>` commands it adds.

Each service's service.py defines `SERVICE`; services/registry.py lists them, and hands that registry to
the CLI, the supervisor and the gateway, so libs never names a service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from libs.config.live import LiveConfig
from libs.settings import Settings

# build(stack, settings, live): the live config is the version in force, swapped whole when a new one is applied.
Build = Callable[[AsyncExitStack, Settings, LiveConfig], Awaitable[web.Application]]


@dataclass(frozen=True)
class Command:
    """`tierline <service> <name>`: runs with the process settings; returns the exit code."""

    help: str
    run: Callable[[Settings], int]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    build: Build
    prefixes: tuple[str, ...] = ()  # API paths it serves under the one base URL (longest prefix wins)
    commands: Mapping[str, Command] = field(default_factory=dict)
    home: str | None = None  # a page the base URL's `/` redirects to (the console's)
    # A line for `tierline up`'s ready banner: {url} is the base URL, {<field>} a value `prepare` gave.
    banner: str | None = None
    # What `tierline up` hands this service's processes besides the common settings (Settings field -> value),
    # made once per start: the console's sealing key, kept in the data directory; intake's SMTP port.
    prepare: Callable[[Settings], dict[str, str]] | None = None


class Registry(Protocol):
    """Every service, by name; a spec is loaded only when asked for (a service's process imports only itself)."""

    names: tuple[str, ...]

    def spec(self, name: str) -> ServiceSpec: ...
