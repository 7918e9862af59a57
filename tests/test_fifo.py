"""TimedFifo: a queue of due calls kept out of the heap runs exactly as scheduled calls do."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelab.sim import Engine
from scalelab.sim.engine import NORMAL, URGENT
from scalelab.sim.fifo import TimedFifo

#: what a callback does when it runs: queue a call (step after the last queued time), schedule
#: an ordinary or urgent event (delay), or nothing
Action = tuple[str, float]
ACTIONS = st.tuples(st.sampled_from(["queue", "event", "urgent", "none"]), st.sampled_from([0.0, 1.0]))


def _trace(script: list[Action], use_fifo: bool) -> list[tuple[float, str]]:
    """Run the script; every callback takes the next action. The reference queues by putting
    each call in the heap at its time (``Engine.at``), as the controller-manager used to."""
    engine = Engine()
    fifo = TimedFifo(engine)
    trace: list[tuple[float, str]] = []
    last = [0.0]
    steps = iter(script)

    def queue(time: float, callback: Callable[..., None], *args: Any) -> None:
        if use_fifo:
            fifo.at(time, callback, *args)
        else:
            engine.at(time, callback, *args, priority=NORMAL)

    def act(label: str) -> None:
        trace.append((engine.now, label))
        kind, step = next(steps, ("none", 0.0))
        if kind == "queue":
            last[0] = max(last[0], engine.now) + step
            queue(last[0], act, f"q{len(trace)}")
        elif kind in ("event", "urgent"):
            engine.schedule(step, act, f"e{len(trace)}", priority=URGENT if kind == "urgent" else NORMAL)

    for i in range(6):
        engine.schedule(0.0, act, f"start{i}")
    engine.run(math.inf)
    return trace


@given(st.lists(ACTIONS, max_size=80))
def test_a_fifo_runs_every_call_where_scheduling_it_when_queued_would(script: list[Action]) -> None:
    assert _trace(script, use_fifo=True) == _trace(script, use_fifo=False)


def test_only_the_next_call_is_in_the_heap() -> None:
    engine = Engine()
    fifo = TimedFifo(engine)
    seen: list[int] = []
    for i in range(1000):
        fifo.at(i * 0.001, seen.append, i)
    assert engine.pending == 1 and len(fifo) == 1000
    engine.run(math.inf)
    assert seen == list(range(1000)) and len(fifo) == 0 and engine.pending == 0


def test_a_call_before_an_earlier_queued_one_is_refused() -> None:
    fifo = TimedFifo(Engine())
    fifo.at(2.0, print)
    with pytest.raises(ValueError):
        fifo.at(1.0, print)
