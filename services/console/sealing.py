"""Sealing the API token a session keeps: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`), with a key
derived from TIERLINE_CONSOLE_SECRET. A copy of the sessions table alone yields no token."""

from __future__ import annotations

import base64
import hashlib
import secrets

import structlog
from cryptography.fernet import Fernet, InvalidToken

from libs.secrets import kept_secret
from libs.settings import Settings

log = structlog.get_logger()


def fernet_key(secret: str) -> bytes:
    """Any secret string -> the 32 url-safe base64 bytes Fernet wants (SHA-256 of it)."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


class Sealer:
    def __init__(self, secret: str | None) -> None:
        if not secret:
            # Without a configured secret, sessions still work, but only in this process and until it stops.
            log.warning("console.no_secret", hint="set TIERLINE_CONSOLE_SECRET so sessions survive restarts")
            secret = secrets.token_urlsafe(32)
        self._fernet = Fernet(fernet_key(secret))

    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode())

    def unseal(self, sealed: bytes) -> str | None:
        """The token, or None when it was sealed under another key (the secret changed)."""
        try:
            return self._fernet.decrypt(bytes(sealed)).decode()
        except InvalidToken:
            return None


SECRET_FILE = "console.secret"


def stack_secret(settings: Settings) -> dict[str, str]:
    """What `tierline up` hands the console's processes (libs.service.ServiceSpec.prepare): TIERLINE_CONSOLE_SECRET,
    else a key generated once and kept in the data directory, so sessions survive a restart of the stack."""
    return {"console_secret": settings.console_secret or kept_secret(settings.data_dir, SECRET_FILE)}
