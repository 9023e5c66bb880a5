"""CPU per process group over a benchmark step (psutil): seconds of CPU, as % of one core and per alert."""

from __future__ import annotations

import time

import psutil


def _tree_cpu(pid: int) -> float:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
            if p is proc:  # children it reaped (PostgreSQL backends that ended) keep counting
                total += t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


class CpuMeter:
    """The stack's process groups (each service, nats-server, PostgreSQL with all its backends); the load
    generator, its own process, reports its own CPU and is never counted in the stack's total."""

    def __init__(self, services: dict[str, object], nats_srv: object, pg: object) -> None:
        self.groups = {name: svc for name, svc in services.items()}
        self.groups["nats-server"] = nats_srv
        self.groups["postgres"] = pg

    def _pids(self) -> dict[str, int]:
        return {n: g.proc.pid for n, g in self.groups.items() if getattr(g, "proc", None)}  # type: ignore[attr-defined]

    def pids(self) -> list[int]:
        """The root process of each group (the stack's services, NATS, PostgreSQL)."""
        return list(self._pids().values())

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.before = {n: _tree_cpu(pid) for n, pid in self._pids().items()}

    def stop(self) -> tuple[float, dict[str, float]]:
        """(wall seconds, CPU seconds per group)."""
        wall = time.perf_counter() - self.t0
        return wall, {n: _tree_cpu(pid) - self.before.get(n, 0) for n, pid in self._pids().items()}


def columns(wall: float, used: dict[str, float], gen: float, alerts: int) -> dict[str, str]:
    """CPU ms per accepted alert for each group and in total (the stack: services, NATS, PostgreSQL), the
    total as % of one core, and the load generator's % (not in the total)."""
    out = {f"{n} ms/a": f"{s * 1000 / alerts:.2f}" if alerts else "n/a" for n, s in used.items()}
    total = sum(used.values())
    out["total ms/a"] = f"{total * 1000 / alerts:.2f}" if alerts else "n/a"
    out["total %"] = f"{total / wall * 100:.0f}"
    out["loadgen %"] = f"{gen / wall * 100:.0f}"
    return out
