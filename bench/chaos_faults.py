"""The chaos suite's faults: one injection per experiment, timed against the alert stream (bench/chaos.py runs
them). Each notes when its fault began and ended, and how long the stack then took to be whole again."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import nats
import nats.errors

from bench.chaos_load import Sender
from bench.chaos_stack import SERVICES, Stack


async def quiet(exc: Exception) -> None:
    """A NATS node we killed is not news: the harness's own connections say nothing about it."""


@dataclass
class Fault:
    label: str
    start: float
    end: float  # when it was lifted (the restart, SIGCONT); the same as start for a kill -9 restarted at once
    whole_s: float = float("nan")  # from `end` until every process answered ready again


@dataclass
class Run:
    stack: Stack
    http: aiohttp.ClientSession
    sender: Sender
    seconds: float  # how long sending everything takes at the rate
    experiment: Experiment
    short: bool
    rng: random.Random
    started: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    notes: dict[str, object] = field(default_factory=dict)  # what an experiment saw, for its test

    async def at(self, fraction: float) -> None:
        """Sleep until `fraction` of the sending time has passed."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.started + fraction * self.seconds - loop.time()))

    @property
    def hold(self) -> float:
        """How long this experiment's fault lasts (`--short`: a few seconds)."""
        return self.experiment.hold[1 if self.short else 0]

    async def lifted(self, label: str, start: float) -> None:
        """The fault is over now: note it, and how long until the stack is whole again."""
        loop = asyncio.get_running_loop()
        fault = Fault(label, start, loop.time())
        self.faults.append(fault)
        await self.stack.until_whole(self.http, timeout=300)
        fault.whole_s = loop.time() - fault.end


def now() -> float:
    return asyncio.get_running_loop().time()


async def kill_each_service(run: Run) -> None:
    """kill -9 of each service once, at a random moment, restarted at once."""
    moments = sorted(run.rng.uniform(0.1, 0.8) for _ in SERVICES)
    for name, moment in zip(run.rng.sample(SERVICES, len(SERVICES)), moments, strict=True):
        await run.at(moment)
        replica, t = run.stack.services[name][0], now()
        await replica.kill()
        await replica.start()
        await run.lifted(f"{name} kill -9", t)


async def stop_triage(run: Run) -> None:
    """SIGSTOP of triage for 20 s: intake must answer 503 + Retry-After rather than grow the backlog."""
    await run.at(0.3)
    triage, t = run.stack.services["triage"][0], now()
    triage.signal(signal.SIGSTOP)
    await asyncio.sleep(run.hold)
    triage.signal(signal.SIGCONT)
    await run.lifted("triage SIGSTOP", t)


async def restart_nats(run: Run) -> None:
    """kill -9 of the nats-server, started again on its port and store after 5 s."""
    await run.at(0.4)
    t = now()
    await run.stack.nats.kill(0)
    await asyncio.sleep(run.hold)
    await run.stack.nats.nodes[0].restart()
    await run.lifted("nats-server kill -9", t)


async def restart_postgres(run: Run) -> None:
    """kill -9 of the postmaster, started again after 30 s (longer than the whole redelivery schedule)."""
    await run.at(0.3)
    t = now()
    await run.stack.pg.kill()
    await asyncio.sleep(run.hold)
    await run.stack.pg.restart()
    await run.lifted("PostgreSQL kill -9", t)


async def kill_one_replica_each(run: Run) -> None:
    """Two replicas of every service; one of each killed -9 at once, started again 10 s later."""
    await run.at(0.3)
    t, killed = now(), [rs[0] for rs in run.stack.services.values()]
    await asyncio.gather(*(r.kill() for r in killed))
    await asyncio.sleep(run.hold)
    await asyncio.gather(*(r.start() for r in killed))
    await run.lifted("one replica of each kill -9", t)


async def cluster_loses_nodes(run: Run) -> None:
    """A three-node cluster (R3 streams) loses a follower of the events stream, then (that one back) its leader."""
    for moment, role in ((0.2, "follower"), (0.6, "leader")):
        await run.at(moment)
        index, t = await stream_node(run, role), now()
        await run.stack.nats.kill(index)
        await asyncio.sleep(run.hold)
        # Who leads while the node is away: once it is back it may win an election again, so only now tells
        # whether another node took over.
        run.notes[f"{role}_killed"], run.notes[f"leader_without_{role}"] = index, await stream_node(run, "leader")
        await run.stack.nats.nodes[index].restart()
        await run.lifted(f"NATS {role} n{index} kill -9", t)
    await stream_node(run, "leader")


async def stream_node(run: Run, role: str) -> int:
    """The index of the events stream's leader, or of one of its followers; notes the leaders and replicas seen."""
    stack = run.stack
    nc = await nats.connect(stack.nats.url.split(","), error_cb=quiet)
    try:
        js = nc.jetstream(timeout=2)
        for _ in range(300):  # after a node came back, until the stream has a leader again (an election: seconds)
            with contextlib.suppress(nats.errors.Error):
                info = await js.stream_info(f"{stack.prefix.upper()}_EVENTS")
                if info.cluster and info.cluster.leader:
                    break
            await asyncio.sleep(0.1)
    finally:
        await nc.close()
    assert info.cluster and info.cluster.leader, "the events stream has no leader"
    leader = int(info.cluster.leader.removeprefix("n"))
    run.notes.setdefault("leaders", []).append(leader)  # type: ignore[union-attr]
    run.notes["stream_replicas"] = info.config.num_replicas
    return leader if role == "leader" else next(i for i in range(len(stack.nats.nodes)) if i != leader)


@dataclass(frozen=True)
class Experiment:
    name: str
    label: str
    inject: Callable[[Run], Awaitable[None]]
    hold: tuple[float, float] = (0, 0)  # how long the fault lasts: full, --short
    nats_nodes: int = 1
    replicas: int = 1

    def title(self, short: bool) -> str:
        return self.label.format(hold=f"{self.hold[1 if short else 0]:g}")


EXPERIMENTS = [
    Experiment("kill-services", "kill -9 of each service", kill_each_service),
    Experiment("stop-triage", "SIGSTOP of triage for {hold} s", stop_triage, (20, 8)),
    Experiment("nats-restart", "kill -9 of nats-server, back after {hold} s", restart_nats, (5, 1)),
    Experiment("postgres-restart", "kill -9 of PostgreSQL, back after {hold} s", restart_postgres, (30, 3)),
    Experiment("replicas", "2 replicas each; one of each kill -9, back after {hold} s", kill_one_replica_each,
               (10, 3), replicas=2),
    Experiment("nats-cluster", "3 NATS nodes, R3: a follower, then the leader, kill -9, back after {hold} s",
               cluster_loses_nodes, (10, 3), nats_nodes=3),
]  # fmt: skip
BY_NAME = {e.name: e for e in EXPERIMENTS}
