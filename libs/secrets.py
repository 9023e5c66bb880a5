"""Secrets `tierline up` keeps for a service in the data directory when the environment names none: made once
(random, mode 0600) and read back on every start, so what depends on them survives restarts."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def kept_secret(data_dir: Path, name: str) -> str:
    """The secret kept in `data_dir/name`, made now if there is none yet."""
    path = data_dir.resolve() / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago: use theirs
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()
