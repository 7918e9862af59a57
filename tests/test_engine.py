"""The engine: ordering, determinism, processes, and queueing theory."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelab.sim import Engine
from scalelab.sim.mmc import erlang_c_wait, run_engine, run_simpy, samples


def test_ties_run_in_insertion_order() -> None:
    engine = Engine()
    seen: list[int] = []
    for i in range(5):
        engine.schedule(1.0, seen.append, i)
    engine.run(2.0)
    assert seen == [0, 1, 2, 3, 4]
    assert engine.now == 2.0


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=50))
def test_callbacks_run_in_time_order(delays: list[float]) -> None:
    engine = Engine()
    times: list[float] = []
    for d in delays:
        engine.schedule(d, lambda: times.append(engine.now))
    engine.run(math.inf)
    assert times == sorted(delays)


def test_negative_delay_rejected() -> None:
    with pytest.raises(ValueError):
        Engine().schedule(-1.0, print)


def test_run_stops_at_until_and_keeps_later_events() -> None:
    engine = Engine()
    seen: list[float] = []
    engine.schedule(5.0, seen.append, 5.0)
    engine.schedule(15.0, seen.append, 15.0)
    engine.run(10.0)
    assert seen == [5.0] and engine.now == 10.0 and engine.pending == 1
    engine.run(20.0)
    assert seen == [5.0, 15.0]


def test_processes_wait_on_timeouts_and_each_other() -> None:
    engine = Engine()
    log: list[tuple[float, str]] = []

    def child():  # type: ignore[no-untyped-def]
        yield engine.timeout(2.0)
        log.append((engine.now, "child"))
        return 42

    def parent():  # type: ignore[no-untyped-def]
        value = yield engine.process(child())
        log.append((engine.now, f"parent got {value}"))

    engine.process(parent())
    engine.run(10.0)
    assert log == [(2.0, "child"), (2.0, "parent got 42")]


def test_stop_ends_run_early() -> None:
    engine = Engine()
    engine.schedule(1.0, engine.stop)
    engine.schedule(2.0, lambda: None)
    engine.run(10.0)
    assert engine.now == 1.0 and engine.pending == 1


@pytest.mark.parametrize(("lam", "mu", "servers"), [(0.5, 1.0, 1), (2.0, 1.0, 3)])
def test_mmc_mean_wait_matches_theory_and_simpy(lam: float, mu: float, servers: int) -> None:
    gaps, services = samples(lam, mu, 400_000, seed=7)
    ours, events = run_engine(gaps, services, servers)
    theory = erlang_c_wait(lam, mu, servers)
    assert ours == pytest.approx(theory, rel=0.03)
    assert run_simpy(gaps, services, servers) == pytest.approx(ours, rel=1e-9)
    assert events > 800_000


def test_same_inputs_same_result() -> None:
    gaps, services = samples(0.9, 1.0, 5_000, seed=3)
    assert run_engine(gaps, services, 1) == run_engine(gaps, services, 1)
