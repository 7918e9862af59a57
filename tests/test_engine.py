"""The engine: ordering, determinism, processes, and queueing theory."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mmc import erlang_c_wait, run_engine, run_simpy, samples
from scalelab.sim import Engine, Interrupt


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


def test_past_time_rejected_like_a_negative_delay() -> None:
    engine = Engine()
    engine.schedule(5.0, lambda: None)
    engine.run(5.0)
    with pytest.raises(ValueError, match="past"):
        engine.at(4.0, print)
    engine.at(5.0, print)  # now is allowed


def test_cancelled_timer_never_runs_and_is_not_counted() -> None:
    engine = Engine()
    seen: list[int] = []
    keep = engine.schedule(1.0, seen.append, 1)
    drop = engine.schedule(1.0, seen.append, 2)
    drop.cancel()
    engine.run(5.0)
    assert seen == [1] and drop.cancelled and not keep.cancelled
    assert engine.events_processed == 1


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=50, allow_nan=False), st.booleans()),
                min_size=1, max_size=40))
def test_exactly_the_uncancelled_timers_run_in_time_order(plan: list[tuple[float, bool]]) -> None:
    engine = Engine()
    ran: list[int] = []
    timers = [engine.schedule(delay, ran.append, i) for i, (delay, _cancel) in enumerate(plan)]
    for timer, (_delay, cancel) in zip(timers, plan, strict=True):
        if cancel:
            timer.cancel()
    engine.run(math.inf)
    expected = sorted((i for i, (_d, cancel) in enumerate(plan) if not cancel), key=lambda i: (plan[i][0], i))
    assert ran == expected
    assert engine.events_processed == len(expected)


def test_failed_event_is_thrown_into_the_waiting_process() -> None:
    engine = Engine()
    reply = engine.event()
    caught: list[str] = []

    def caller():  # type: ignore[no-untyped-def]
        try:
            yield reply
        except TimeoutError as exc:
            caught.append(f"{engine.now}: {exc}")
        return "handled"

    proc = engine.process(caller())
    engine.schedule(3.0, reply.fail, TimeoutError("rpc timed out"))
    engine.run(10.0)
    assert caught == ["3.0: rpc timed out"]
    assert proc.triggered and proc.ok and proc.value == "handled"


def test_an_exception_escaping_a_process_fails_it_for_its_waiters() -> None:
    engine = Engine()
    seen: list[object] = []

    def child():  # type: ignore[no-untyped-def]
        yield engine.timeout(1.0)
        raise KeyError("deadlock")

    def parent():  # type: ignore[no-untyped-def]
        try:
            yield engine.process(child())
        except KeyError as exc:
            seen.append(exc.args[0])

    engine.process(parent())
    engine.run(5.0)
    assert seen == ["deadlock"]


def test_an_unwatched_process_failure_is_not_swallowed() -> None:
    engine = Engine()

    def broken():  # type: ignore[no-untyped-def]
        yield engine.timeout(1.0)
        raise RuntimeError("bug")

    engine.process(broken())
    with pytest.raises(RuntimeError, match="bug"):
        engine.run(5.0)


def test_interrupt_stops_the_wait_and_the_old_wake_up_is_ignored() -> None:
    engine = Engine()
    log: list[tuple[float, str]] = []

    def sleeper():  # type: ignore[no-untyped-def]
        try:
            yield engine.timeout(10.0)
            log.append((engine.now, "woke"))
        except Interrupt as intr:
            log.append((engine.now, f"interrupted: {intr.cause}"))
            yield engine.timeout(20.0)
            log.append((engine.now, "slept again"))

    proc = engine.process(sleeper())
    engine.schedule(2.0, proc.interrupt, "node down")
    engine.run(100.0)
    assert log == [(2.0, "interrupted: node down"), (22.0, "slept again")]
    assert not proc.alive


def test_any_of_is_the_first_all_of_every_one() -> None:
    engine = Engine()
    got: dict[str, object] = {}

    def waiter():  # type: ignore[no-untyped-def]
        fast, slow = engine.timeout(1.0, "reply"), engine.timeout(5.0, "timeout")
        first = yield engine.any_of([fast, slow])
        got["any"] = (engine.now, list(first.values()))
        both = yield engine.all_of([fast, slow])
        got["all"] = (engine.now, sorted(both.values()))

    engine.process(waiter())
    engine.run(10.0)
    assert got == {"any": (1.0, ["reply"]), "all": (5.0, ["reply", "timeout"])}


def test_a_failure_fails_the_condition() -> None:
    engine = Engine()
    bad = engine.event()
    outcome: list[str] = []

    def waiter():  # type: ignore[no-untyped-def]
        try:
            yield engine.all_of([engine.timeout(5.0), bad])
        except ValueError:
            outcome.append(f"failed at {engine.now}")

    engine.process(waiter())
    engine.schedule(1.0, bad.fail, ValueError("x"))
    engine.run(10.0)
    assert outcome == ["failed at 1.0"]


#: a scheduled child: (parent index or -1 for the start, delay, urgent?)
_CHILD = st.tuples(st.integers(min_value=-1, max_value=8), st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.5]), st.booleans())


def _reference_order(plan: list[tuple[int, float, bool]], until: float) -> list[int]:
    """The order a plain heap of ``(time, priority, sequence)`` runs ``plan`` in: what the
    engine's urgent-now FIFO must never change."""
    import heapq

    heap: list[tuple[float, int, int, int]] = []
    seq, now, order = 0, 0.0, []

    def spawn(parent: int) -> None:
        nonlocal seq
        for index, (p, delay, urgent) in enumerate(plan):
            if p == parent:
                seq += 1
                heapq.heappush(heap, (now + delay, 0 if urgent else 1, seq, index))

    spawn(-1)
    for limit in (until, math.inf):
        while heap and heap[0][0] <= limit:
            now, _prio, _seq, index = heapq.heappop(heap)
            order.append(index)
            spawn(index)
        now = max(now, limit) if limit != math.inf else now
    return order


@given(st.lists(_CHILD, min_size=1, max_size=40), st.sampled_from([0.0, 0.5, 1.0, 3.0]))
@example([(-1, 1.0, True), (-1, 1.0, True), (0, 0.0, True)], 0.0)  # a FIFO-first loop fails it
def test_urgent_entries_due_now_run_in_the_heaps_order(plan: list[tuple[int, float, bool]], until: float) -> None:
    """Urgent zero-delay entries wait outside the heap: the run order (and where a run up to
    ``until`` stops) is still the order of ``(time, priority, sequence)``, to the entry."""
    from scalelab.sim.engine import NORMAL, URGENT

    engine = Engine()
    order: list[int] = []

    def spawn(parent: int) -> None:
        for index, (p, delay, urgent) in enumerate(plan):
            if p == parent:
                engine.schedule(delay, run, index, priority=URGENT if urgent else NORMAL)

    def run(index: int) -> None:
        order.append(index)
        spawn(index)

    spawn(-1)
    engine.run(until)
    assert engine.now == until  # time stands at until after the first part
    engine.run(math.inf)
    assert order == _reference_order(plan, until)
