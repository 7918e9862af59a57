"""Processor-shared cores and counted slots."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.sim import Cores, Engine, Slots


def _finish_times(threads: float, works: list[float], weights: list[float] | None = None) -> list[float]:
    engine = Engine()
    cores = Cores(engine, threads)
    done: list[float] = [0.0] * len(works)
    for i, w in enumerate(works):
        cores.submit(w, lambda i=i: done.__setitem__(i, engine.now), weight=(weights or [1.0] * len(works))[i])
    engine.run(1e9)
    return done


def test_k_jobs_on_one_thread_each_get_one_kth() -> None:
    # 4 equal jobs of 1 s on one thread: all finish together at 4 s.
    assert _finish_times(1, [1.0] * 4) == pytest.approx([4.0] * 4)


def test_jobs_up_to_thread_count_run_at_full_speed() -> None:
    assert _finish_times(4, [1.0, 2.0, 3.0]) == pytest.approx([1.0, 2.0, 3.0])


def test_short_job_leaves_early_under_sharing() -> None:
    # one thread, jobs of 1 s and 3 s: both at half speed until 2 s, then the long one alone.
    assert _finish_times(1, [1.0, 3.0]) == pytest.approx([2.0, 4.0])


def test_weighted_cohort_equals_individual_jobs() -> None:
    cohort = _finish_times(2, [1.0, 1.0], weights=[3.0, 1.0])
    single = _finish_times(2, [1.0] * 4)
    assert cohort == pytest.approx([single[0], single[3]])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.lists(st.floats(0.001, 10.0), min_size=1, max_size=30))
def test_work_conserving(threads: int, works: list[float]) -> None:
    engine = Engine()
    cores = Cores(engine, threads)
    for w in works:
        cores.submit(w, lambda: None, owner="a")
    engine.run(1e9)
    assert cores.busy_integral == pytest.approx(sum(works), rel=1e-6)
    assert cores.owner_busy["a"] == pytest.approx(sum(works), rel=1e-6)


def test_owner_shares_split_busy_time() -> None:
    engine = Engine()
    cores = Cores(engine, 1)
    cores.submit(1.0, lambda: None, owner="api")
    cores.submit(1.0, lambda: None, owner="etcd")
    engine.run(10.0)
    assert cores.owner_busy_seconds("api") == pytest.approx(1.0)
    assert cores.owner_busy_seconds("etcd") == pytest.approx(1.0)


def test_slots_reject_when_full_and_wait_in_order() -> None:
    engine = Engine()
    slots = Slots(engine, 2)
    assert slots.try_acquire(3) == 2
    assert slots.try_acquire() == 0
    order: list[int] = []
    slots.acquire(lambda: order.append(1))
    slots.acquire(lambda: order.append(2))
    slots.release()
    engine.run(1.0)
    assert order == [1] and slots.waiting == 1
    slots.release()
    engine.run(2.0)
    assert order == [1, 2]
    with pytest.raises(RuntimeError):
        Slots(engine, 1).release()


Op = tuple[float, str, float, int, str]  # (time, kind, work, weight, owner)

_ops = st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.5]), st.sampled_from(["burn", "job"]),
                          st.sampled_from([0.25, 0.5, 1.5]), st.integers(1, 4), st.sampled_from(["a", "b"])),
                min_size=1, max_size=40)


def _replay(threads: int, ops: list[Op], burn_as: str) -> tuple[list[float], float, dict[str, float], float, int]:
    """Run ``ops`` on fresh cores, their burns through ``burn`` (``burn_as`` "burn"), as jobs
    that call nobody ("none") or as jobs that call a no-op, so their ends are events ("noop");
    returns finish times, busy books, work and events."""
    engine = Engine()
    cores = Cores(engine, threads)
    done: list[float] = []

    def act(kind: str, work: float, weight: int, owner: str) -> None:
        if kind == "job":
            cores.submit(work, lambda: done.append(engine.now), weight=weight, owner=owner)
        elif burn_as == "burn":
            cores.burn(work, weight=weight, owner=owner)
        else:
            cores.submit(work, None if burn_as == "none" else (lambda: None), weight=weight, owner=owner)

    for time, kind, work, weight, owner in ops:
        engine.at(time, act, kind, work, weight, owner)
    engine.run(1e9)
    return done, cores.busy_integral, dict(cores.owner_busy), cores.work_done, engine.events_processed


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), _ops)
def test_same_instant_burns_joined_compute_what_separate_jobs_compute(threads: int, ops: list[Op]) -> None:
    # identical burns at one instant share one heap entry: every finish time and every busy
    # integral must be what separate jobs give, to the bit
    assert _replay(threads, ops, "burn")[:4] == _replay(threads, ops, "none")[:4]


def test_same_instant_burns_share_one_entry() -> None:
    engine = Engine()
    cores = Cores(engine, 2)
    for _ in range(5):
        cores.burn(1.0, owner="api")
    cores.burn(2.0, owner="api")  # other work: an entry of its own
    assert len(cores._burns) == 2 and not cores._tags
    assert cores.busy_jobs == 6.0
    engine.run(1e9)
    assert cores.busy_integral == pytest.approx(7.0)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6), _ops)
def test_burns_ending_without_events_compute_what_events_compute(threads: int, ops: list[Op]) -> None:
    # a burn's end is passed when the books next move, not at an event of its own: every
    # finish time, busy integral and owner share must be what ending it at an event gives
    # (to rounding), saturated or not, and no run takes more events
    done, busy, owners, _work, events = _replay(threads, ops, "burn")
    ref_done, ref_busy, ref_owners, _ref_work, ref_events = _replay(threads, ops, "noop")
    assert done == pytest.approx(ref_done, rel=1e-9, abs=1e-9)
    assert busy == pytest.approx(ref_busy, rel=1e-9)
    assert owners == pytest.approx(ref_owners, rel=1e-9)
    assert events <= ref_events


def test_unsaturated_burns_cost_no_event() -> None:
    engine = Engine()
    cores = Cores(engine, 4)
    for i in range(3):
        cores.burn(1.0 + i, owner="watch")
    engine.run(100.0)
    assert engine.events_processed == 0
    assert cores.busy_integral == pytest.approx(6.0) and cores.busy_jobs == 0.0


def test_saturated_burn_end_speeds_a_waiting_job_up() -> None:
    # one thread: a 1 s burn and a 2 s job share it until the burn ends at 2 s, then the job
    # runs alone and finishes at 3 s (not 4 s, as if the burn never ended)
    engine = Engine()
    cores = Cores(engine, 1)
    done: list[float] = []
    cores.burn(1.0, owner="watch")
    cores.submit(2.0, lambda: done.append(engine.now), owner="api")
    engine.run(100.0)
    assert done == pytest.approx([3.0])
