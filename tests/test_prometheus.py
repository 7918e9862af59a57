"""The Prometheus 1.x component: throttling, persistence urgency, dashboard cost, remote queue."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.components.prometheus import Prometheus, container_series
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine
from scalelab.spec.monitoring import Monitoring

LAB = {"prometheus": True, "retention": 168 * 3600.0, "history": 168 * 3600.0,
       "memory_chunks": 50502740, "max_chunks_to_persist": 3024288}


def _server(nodes: int = 900, pods_per_node: float = 7.0, **spec: object) -> tuple[Engine, Prometheus, Recorder]:
    engine, recorder = Engine(), Recorder()
    prom = Prometheus(engine, Monitoring(**{**LAB, **spec}), Cores(engine, 48, "monitoring"), 0.007, nodes, 8, 3,
                      lambda: pods_per_node * nodes, recorder)
    prom.settle()
    return engine, prom, recorder


def _run(engine: Engine, prom: Prometheus, seconds: float, step: float = 5.0) -> None:
    def tick() -> None:
        prom.step(step)
        engine.schedule(step, tick)
    engine.schedule(step, tick)
    engine.run(seconds)


def test_cadvisor_series_per_container_follow_the_cpus() -> None:
    assert container_series(8) - container_series(1) == 7
    assert container_series(8) == 55


def test_more_active_series_than_memory_chunks_throttles_every_scrape() -> None:
    # the 1.x storage docs: more active series than affordable memory chunks throttles at once
    engine, prom, recorder = _server(memory_chunks=1024 * 1024, max_chunks_to_persist=512 * 1024)
    assert prom.series > 1.1 * 1024 * 1024
    _run(engine, prom, 120.0)
    prom.finish(recorder)
    assert recorder.finals["prometheus_samples_ingested_total"] == 0.0
    assert recorder.finals["prometheus_throttled_seconds"] == pytest.approx(120.0)


def test_a_small_cluster_stays_calm_under_the_lab_flags() -> None:
    engine, prom, recorder = _server(nodes=20)
    _run(engine, prom, 120.0)
    prom.finish(recorder)
    assert recorder.finals["prometheus_samples_skipped_total"] == 0.0
    assert recorder.finals["prometheus_rushed_seconds"] == 0.0
    assert recorder.finals["prometheus_persistence_urgency_peak"] < 0.1


def test_urgency_grows_with_the_cluster_until_the_disk_bounds_persistence() -> None:
    urgency = [_server(nodes=n)[1].urgency for n in (50, 300, 900)]
    assert urgency == sorted(urgency) and urgency[0] < urgency[-1]
    _engine, big, _recorder = _server(nodes=900)
    assert big.rushed  # at the lab's size the single maintenance goroutine runs flat out


def test_a_panel_reads_files_only_beyond_what_memory_keeps() -> None:
    _engine, prom, _recorder = _server(dashboard_range=3600.0)
    assert prom.panel_query().disk_series == 0.0  # the last hour is resident
    _engine, week, _recorder = _server(dashboard_range=168 * 3600.0)
    query = week.panel_query()
    assert query.disk_series == 900 * 8 and query.disk_seconds(0.007) > 30.0


def test_queries_slow_down_with_the_range_they_cover() -> None:
    took = []
    for hours in (1, 24, 168):
        engine, prom, recorder = _server(dashboard_range=hours * 3600.0, dashboard_refresh=60.0)
        engine.schedule(1.0, prom.refresh_dashboard)
        _run(engine, prom, 300.0)
        took.append(recorder.histograms["prometheus_query_seconds"].distribution().quantile(0.5))
    assert took == sorted(took) and took[-1] > 10 * took[0]


def test_the_remote_queue_drops_what_its_shards_cannot_send() -> None:
    engine, prom, recorder = _server(nodes=300, remote_storage=True, remote_send_seconds=0.05)
    assert prom.samples_per_second() > 20_000.0
    _run(engine, prom, 300.0)
    prom.finish(recorder)
    sent, dropped = (recorder.finals["prometheus_remote_samples_sent_total"],
                     recorder.finals["prometheus_remote_samples_dropped_total"])
    capacity = 10 * 100 / 0.05  # shards x batch / write time
    assert recorder.finals["prometheus_samples_skipped_total"] == 0.0
    assert dropped > 0 and sent / 300.0 == pytest.approx(capacity, rel=0.1)
    engine, fast, recorder = _server(nodes=300, remote_storage=True)  # the disk's sync per write: keeps up
    _run(engine, fast, 300.0)
    fast.finish(recorder)
    assert recorder.finals["prometheus_remote_samples_dropped_total"] == 0.0


@settings(max_examples=25, deadline=None)
@given(nodes=st.integers(1, 3000), pods=st.floats(0, 30), memory=st.integers(10_000, 100_000_000),
       to_persist=st.integers(1_000, 10_000_000), encoding=st.sampled_from([1, 2]))
def test_storage_state_stays_physical(nodes: int, pods: float, memory: int, to_persist: int, encoding: int) -> None:
    engine, prom, _recorder = _server(nodes=nodes, pods_per_node=pods, memory_chunks=memory,
                                      max_chunks_to_persist=to_persist, chunk_encoding=encoding)
    _run(engine, prom, 60.0)
    assert prom.waiting >= 0.0 and 0.0 <= prom.urgency <= 1.0
    assert prom.memory_chunks() >= prom.series + prom.waiting
    assert prom.throttled == prom.needs_throttling()
