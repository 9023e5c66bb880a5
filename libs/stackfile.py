"""Where a running `tierline up` is (its data directory's stack.json), for commands run beside it:
`tierline config apply`, `tierline reporting rebuild`."""

from __future__ import annotations

import json
import os
from contextlib import AsyncExitStack
from typing import Any

from libs.settings import Settings

STACK_FILE = "stack.json"


def record_stack(stack: AsyncExitStack, settings: Settings, url: str) -> None:
    """Write where this stack is; removed again when `stack` closes."""
    path = settings.data_dir.resolve() / STACK_FILE
    info = {"base_url": url, "nats_url": settings.nats_url, "database_url": settings.database_url, "pid": os.getpid()}
    path.write_text(json.dumps(info, indent=2) + "\n")
    stack.callback(path.unlink, missing_ok=True)


def _running(settings: Settings) -> dict[str, Any] | None:
    """The stack file of the `tierline up` running on this data directory, if one is (its process alive)."""
    try:
        info = json.loads((settings.data_dir.resolve() / STACK_FILE).read_text())
        os.kill(info["pid"], 0)
        return info
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_base_url(settings: Settings) -> str | None:
    """The base URL of the `tierline up` running on this data directory, if one is."""
    info = _running(settings)
    return str(info["base_url"]) if info and "base_url" in info else None


def running_stack(settings: Settings, *, need: tuple[str, ...] = ("nats_url", "database_url")) -> Settings:
    """Settings with the NATS and PostgreSQL URLs (those in `need`): from the environment, else from a running
    `tierline up`."""
    if all(getattr(settings, n) for n in need):
        return settings
    info = _running(settings)
    if info is None:
        raise RuntimeError(
            f"no running stack at {settings.data_dir} (start one with `make run`) and no "
            "TIERLINE_NATS_URL / TIERLINE_DATABASE_URL set"
        )
    return settings.model_copy(
        update={
            "nats_url": settings.nats_url or info.get("nats_url"),
            "database_url": settings.database_url or info.get("database_url"),
        }
    )
