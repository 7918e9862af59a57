"""Reference queueing model (M/M/c, FIFO) on this engine and on SimPy, fed the same samples.

A test helper: it validates the engine (mean waits against queueing theory and against
SimPy) and the benchmarks measure the engine with it (events per second, speed against SimPy).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scalelab.sim import Engine, Slots


def samples(arrival_rate: float, service_rate: float, customers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.exponential(1.0 / arrival_rate, customers), rng.exponential(1.0 / service_rate, customers)


def erlang_c_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C)."""
    a = arrival_rate / service_rate
    rho = a / servers
    top = a**servers / math.factorial(servers) / (1 - rho)
    bottom = sum(a**k / math.factorial(k) for k in range(servers)) + top
    return (top / bottom) / (servers * service_rate - arrival_rate)


def run_engine(gaps: np.ndarray, services: np.ndarray, servers: int) -> tuple[float, int]:
    """Mean wait with callbacks on this engine; returns (mean wait, events processed)."""
    engine = Engine()
    slots = Slots(engine, servers)
    waits: list[float] = []
    gap_list = gaps.tolist()
    svc = services.tolist()
    n = len(gap_list)

    def arrive(i: int) -> None:
        t = engine.now

        def start() -> None:
            waits.append(engine.now - t)
            engine.schedule(svc[i], slots.release)

        slots.acquire(start)
        if i + 1 < n:
            engine.schedule(gap_list[i + 1], arrive, i + 1)

    engine.schedule(gap_list[0], arrive, 0)
    engine.run(math.inf)
    return float(np.mean(waits)), engine.events_processed


def run_simpy(gaps: np.ndarray, services: np.ndarray, servers: int) -> float:
    """The same model as SimPy processes (the reference implementation)."""
    import simpy

    env = simpy.Environment()
    res = simpy.Resource(env, capacity=servers)
    waits: list[float] = []

    def customer(i: int) -> Any:
        t = env.now
        with res.request() as req:
            yield req
            waits.append(env.now - t)
            yield env.timeout(services[i])

    def source() -> Any:
        for i, gap in enumerate(gaps.tolist()):
            yield env.timeout(gap)
            env.process(customer(i))

    env.process(source())
    env.run()
    return float(np.mean(waits))
