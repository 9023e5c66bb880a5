"""structlog set-up: JSON lines when not on a TTY, readable console on one; context from contextvars.

Every record leaves the process in ONE write: five processes share `tierline up`'s stderr, and a record
written as two writes (the text, then "\\n", as structlog's PrintLogger does) gets another process's record
glued into it. Standard-library records (asyncpg, aiohttp, nats, asyncio, warnings) go through the same
renderer (structlog's ProcessorFormatter), so a library's warning is one JSON line with its traceback inside.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _renderer(pretty: bool) -> structlog.typing.Processor:
    return structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()


def configure_logging(service: str, *, level: str = "info", fmt: str = "auto", stream: IO[str] | None = None) -> None:
    """Configure structlog and the standard library's root logger once per process; every line carries
    `service`. `stream` (default stderr) receives each record as one `write` of the line and its newline."""
    out = stream or sys.stderr
    pretty = fmt == "console" or (fmt == "auto" and out.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _renderer(pretty),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level.lower(), 20)),
        # WriteLogger writes `line + "\n"` in one call (PrintLogger's print() makes two).
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(out)  # StreamHandler.emit writes `msg + terminator` in one call too
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # the traceback as a field of the JSON, not lines after it
                _renderer(pretty),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn(...) as records, not raw text on stderr
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    """An exception nobody caught still leaves as one JSON record, traceback inside."""
    structlog.get_logger().critical("process.uncaught_exception", exc_info=(kind, exc, tb))
