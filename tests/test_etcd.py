"""etcd's raft pipeline: proposals arriving during a commit wait for the next batch."""

from __future__ import annotations

import pytest

from scalelab.components.etcd import Etcd
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine


def _etcd(fsync: float = 0.007, rtt: float = 0.0002) -> tuple[Engine, Etcd, Recorder]:
    engine, rec = Engine(), Recorder()
    return engine, Etcd(engine, Cores(engine, 8), fsync, rtt, rec), rec


def test_one_commit_per_batch_and_each_takes_fsync_plus_rtt() -> None:
    engine, etcd, rec = _etcd()
    done: list[tuple[float, str]] = []
    etcd.propose(lambda: done.append((engine.now, "a")))
    for name in "bcd":  # arrive while "a" is being committed
        engine.schedule(0.001, etcd.propose, lambda name=name: done.append((engine.now, name)))
    engine.run(1.0)
    assert [d[1] for d in done] == list("abcd")
    assert done[0][0] == pytest.approx(0.0072)
    assert all(t == pytest.approx(0.0144) for t, _n in done[1:])  # one batch, right after the first
    assert rec.counters["etcd_commits_total"] == 2
    assert rec.counters["etcd_operations_total"] == 4
    assert etcd.revision == 4


def test_weighted_proposals_count_as_that_many_operations() -> None:
    engine, etcd, rec = _etcd()
    etcd.propose(lambda: None, weight=50)
    engine.run(1.0)
    assert rec.counters["etcd_operations_total"] == 50 and etcd.revision == 50


def test_throughput_is_batch_bound_not_fsync_bound() -> None:
    # 1000 writes/s against a 10 ms commit: ~100 commits/s of ~10 writes each, none waiting longer
    # than two commits.
    engine, etcd, rec = _etcd(fsync=0.01, rtt=0.0)
    waits: list[float] = []
    for i in range(1000):
        t = i / 1000.0
        engine.schedule(t, etcd.propose, lambda t=t: waits.append(engine.now - t))
    engine.run(5.0)
    assert len(waits) == 1000
    assert rec.counters["etcd_commits_total"] == pytest.approx(100, abs=2)
    assert max(waits) <= 0.02 + 1e-9
