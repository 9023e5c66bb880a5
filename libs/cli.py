"""The `tierline` command: up, serve NAME, config check FILE, config hash SECRET, reporting rebuild."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from libs.config import load_config, sha256_hex
from libs.logging import configure_logging
from libs.runtime import SERVICE_NAMES, run_service
from libs.settings import Settings


def config_check(path: Path) -> int:
    try:
        cfg = load_config(path)
    except FileNotFoundError:
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    except yaml.YAMLError as exc:
        print(f"{path}: not valid YAML: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        print(f"{path}: {exc.error_count()} error(s)", file=sys.stderr)
        for e in exc.errors(include_url=False):
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            print(f"  {where}: {e['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 1
    keys = sum(len(t.integration_keys) for t in cfg.tenants) + len(cfg.provider.integration_keys)
    cis = sum(len(t.services) for t in cfg.tenants)
    print(f"{path}: OK ({len(cfg.tenants)} tenants, {cis} services, {keys} integration keys)")
    for t in cfg.tenants:  # valid, but a change could wait forever for a vote nobody may cast
        for line in t.cab.quorum_warnings():
            print(f"warning: tenant {t.id}: {line}")
    return 0


def reporting_rebuild(settings: Settings) -> int:
    from libs.supervisor import running_stack
    from services.reporting.rebuild import run

    configure_logging("tierline", level="warning", fmt=settings.log_format)
    try:
        result = run(running_stack(settings))
    except RuntimeError as exc:
        print(f"tierline reporting rebuild: {exc}", file=sys.stderr)
        return 1
    print(
        f"ledger rebuilt from the stream in {result.seconds} s: {result.replayed} events replayed"
        f" ({result.rejected} rejected as breaking their contract), {result.carried_over} rows carried over"
        f" (older than the stream, or recorded meanwhile); {result.ledger_rows} ledger rows"
    )
    return 0


def run_up(settings: Settings, one_process: bool) -> None:
    from libs.supervisor import up

    configure_logging("tierline", level=settings.log_level, fmt=settings.log_format)

    async def main() -> None:
        task = asyncio.current_task()
        assert task
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await up(settings, one_process=one_process)
        print("Tierline stopped.", flush=True)

    try:
        asyncio.run(main())
    except RuntimeError as exc:  # our own start-up refusals (data dir in use, a server that will not start)
        print(f"tierline up: {exc}", file=sys.stderr)
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tierline", description="Tierline operations backbone")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the whole stack (own NATS + PostgreSQL unless URLs are set)")
    p_up.add_argument("--one-process", action="store_true", help="all services in this process (debugging)")
    p_serve = sub.add_parser("serve", help="run one service (what each container runs)")
    p_serve.add_argument("service", choices=SERVICE_NAMES)
    p_cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = p_cfg.add_subparsers(dest="action", required=True)
    cfg_sub.add_parser("check", help="validate a tierline.yaml").add_argument("file", type=Path)
    cfg_sub.add_parser("hash", help="SHA-256 of a key or token, for tierline.yaml").add_argument("secret")
    p_rep = sub.add_parser("reporting", help="reporting tools")
    rep_sub = p_rep.add_subparsers(dest="action", required=True)
    rep_sub.add_parser("rebuild", help="replay the event stream from its start into a fresh SLA ledger")
    args = parser.parse_args(argv)

    if args.command == "config":
        if args.action == "hash":
            print(sha256_hex(args.secret))
            return
        sys.exit(config_check(args.file))
    settings = Settings()
    if args.command == "reporting":
        sys.exit(reporting_rebuild(settings))
    if args.command == "up":
        if (code := config_check(settings.config)) != 0:
            sys.exit(code)
        run_up(settings, args.one_process)
    else:
        run_service(args.service, settings)


if __name__ == "__main__":
    main()
