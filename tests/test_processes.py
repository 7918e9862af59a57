"""Service processes: the acceptor's books of idle workers stay what a scan would find."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scalelab.components.openstack.process import ServiceProcesses, Worker
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event


def _scan(procs: ServiceProcesses, pod: int) -> list[int]:
    return [w.index for w in procs.workers if w.pod == pod and w.inflight == 0]


def _scan_open(procs: ServiceProcesses, pod: int) -> list[int]:
    return [w.index for w in procs.workers if w.pod == pod and w.slots.in_use < w.slots.capacity]


@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=0.0, max_value=3.0)), min_size=1, max_size=60),
       st.integers(min_value=1, max_value=3), st.integers(min_value=1, max_value=4), st.booleans())
def test_idle_workers_are_the_ones_with_nothing_in_flight(plan: list[tuple[bool, float]], replicas: int,
                                                          workers: int, shared_queue: bool) -> None:
    """Requests arrive and leave in any order (held for random times, some on the same
    instant): after every step each pod's idle list is, in order, its workers with nothing in
    flight, and its open list its workers with a free greenthread, so the acceptor picks
    among exactly the workers a scan would give it."""
    engine = Engine()
    procs = ServiceProcesses(engine, "svc", replicas, workers, 2, None, Recorder(), np.random.default_rng(1),
                             shared_queue=shared_queue)
    admitted: list[Worker] = []

    def request(hold: float) -> Generator[Event, Any, None]:
        worker = yield from procs.admit()
        assert worker is not None
        admitted.append(worker)
        yield engine.timeout(hold)
        procs.leave(worker)

    def check() -> None:
        for pod in range(replicas):
            assert procs._idle[pod] == _scan(procs, pod)
            if not shared_queue:  # the eventlet acceptor's free greenthreads
                assert procs._open[pod] == _scan_open(procs, pod)

    for at, (concurrent, hold) in enumerate(plan):
        engine.process(request(hold))
        if not concurrent:
            engine.run(at * 0.5 + 0.25)
        check()
        engine.run(engine.now)  # the same instant: admissions settle
        check()
    engine.run(float("inf"))
    check()
    assert len(admitted) == len(plan)
    assert all(procs._idle[pod] == list(range(pod * workers, (pod + 1) * workers)) for pod in range(replicas))
