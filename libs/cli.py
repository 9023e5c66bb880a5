"""The `tierline` command: up, serve NAME, config check FILE, config apply FILE, config hash SECRET, and each service's
own commands (`tierline reporting rebuild`). services/registry.py gives it the services."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from libs.config import sha256_hex
from libs.config.apply import Checked, check_file
from libs.logging import configure_logging
from libs.runtime import run_service
from libs.service import Registry
from libs.settings import Settings


def _problems(checked: Checked) -> int:
    """Print what a check found wrong, each error with its path; the exit code (0: valid)."""
    path = checked.source
    if checked.config is not None:
        return 0
    [first, *_] = checked.errors
    if first.where == "file":
        print(f"{path}: {first.message}", file=sys.stderr)
        return 2
    if first.where == "yaml":
        print(f"{path}: {first.message}", file=sys.stderr)
        return 1
    print(f"{path}: {len(checked.errors)} error(s)", file=sys.stderr)
    for p in checked.errors:
        print(f"  {p.where}: {p.message}", file=sys.stderr)
    return 1


def config_check(path: Path) -> int:
    checked = check_file(path)
    if (code := _problems(checked)) or checked.config is None:
        return code
    cfg = checked.config
    keys = sum(len(t.integration_keys) for t in cfg.tenants) + len(cfg.provider.integration_keys)
    cis = sum(len(t.services) for t in cfg.tenants)
    print(f"{path}: OK ({len(cfg.tenants)} tenants, {cis} services, {keys} integration keys)")
    for line in checked.warnings:  # valid, but a change could wait forever for a vote nobody may cast
        print(f"warning: {line}")
    return 0


def config_apply(path: Path, settings: Settings) -> int:
    """`tierline config apply FILE`: check it completely (as `config check`), then store it as the next version
    beside a running stack; every service swaps to it (libs/config/apply.py). 0 applied (or unchanged), 1 not."""
    from libs.config.commands import apply_to_stack

    if (code := config_check(path)) != 0:
        print(f"{path}: nothing applied", file=sys.stderr)
        return code
    configure_logging("tierline", level="warning", fmt=settings.log_format)
    return asyncio.run(apply_to_stack(check_file(path), settings))


def run_up(settings: Settings, registry: Registry, one_process: bool) -> None:
    from libs.supervisor import up

    configure_logging("tierline", level=settings.log_level, fmt=settings.log_format)

    async def main() -> None:
        task = asyncio.current_task()
        assert task
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await up(settings, registry, one_process=one_process)
        print("Tierline stopped.", flush=True)

    try:
        asyncio.run(main())
    except RuntimeError as exc:  # our own start-up refusals (data dir in use, a server that will not start)
        print(f"tierline up: {exc}", file=sys.stderr)
        sys.exit(1)


def parser_for(registry: Registry, argv: list[str]) -> argparse.ArgumentParser:
    """The command line; a service's own commands (`tierline reporting rebuild`) load only when named."""
    parser = argparse.ArgumentParser(prog="tierline", description="Tierline operations backbone")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the whole stack (own NATS + PostgreSQL unless URLs are set)")
    p_up.add_argument("--one-process", action="store_true", help="all services in this process (debugging)")
    p_serve = sub.add_parser("serve", help="run one service (what each container runs)")
    p_serve.add_argument("service", choices=registry.names)
    p_cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = p_cfg.add_subparsers(dest="action", required=True)
    cfg_sub.add_parser("check", help="validate a tierline.yaml").add_argument("file", type=Path)
    cfg_sub.add_parser("apply", help="check a tierline.yaml, then apply it to the running stack").add_argument(
        "file", type=Path
    )
    cfg_sub.add_parser("hash", help="SHA-256 of a key or token, for tierline.yaml").add_argument("secret")
    for name in registry.names:
        p_svc = sub.add_parser(name, help=f"{name} tools")
        svc_sub = p_svc.add_subparsers(dest="action", required=True)
        if argv[:1] == [name]:
            for command, spec in registry.spec(name).commands.items():
                svc_sub.add_parser(command, help=spec.help)
    return parser


def main(argv: list[str], *, registry: Registry) -> None:
    args = parser_for(registry, argv).parse_args(argv)
    if args.command == "config":
        if args.action == "hash":
            print(sha256_hex(args.secret))
            return
        if args.action == "apply":
            sys.exit(config_apply(args.file, Settings()))
        sys.exit(config_check(args.file))
    settings = Settings()
    if args.command == "up":
        if (code := config_check(settings.config)) != 0:
            sys.exit(code)
        run_up(settings, registry, args.one_process)
    elif args.command == "serve":
        run_service(registry.spec(args.service), settings)
    else:  # a service's own command
        sys.exit(registry.spec(args.command).commands[args.action].run(settings))
