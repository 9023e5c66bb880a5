"""CPU share per process group over a benchmark step (psutil; 100 % = one core busy for the whole step)."""

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
        except psutil.NoSuchProcess:
            pass
    return total


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()  # this process only: its children are the stack being measured
    return t.user + t.system


class CpuMeter:
    def __init__(self, services: dict[str, object], nats_srv: object, pg: object) -> None:
        self.groups = {name: svc for name, svc in services.items()}
        self.groups["nats-server"] = nats_srv
        self.groups["postgres"] = pg

    def _pids(self) -> dict[str, int]:
        return {n: g.proc.pid for n, g in self.groups.items() if getattr(g, "proc", None)}  # type: ignore[attr-defined]

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.before = {n: _tree_cpu(pid) for n, pid in self._pids().items()}
        self.bench0 = _own_cpu()

    def stop(self) -> dict[str, str]:
        wall = time.perf_counter() - self.t0
        out = {
            f"{n} %": f"{(_tree_cpu(pid) - self.before.get(n, 0)) / wall * 100:.0f}" for n, pid in self._pids().items()
        }
        out["loadgen %"] = f"{(_own_cpu() - self.bench0) / wall * 100:.0f}"
        return out
