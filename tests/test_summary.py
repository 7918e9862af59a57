"""Summaries from measurements alone: quantiles, windows, undefined values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalelab.metrics.recorder import Recorder, Sample
from scalelab.metrics.summary import summarise
from scalelab.results import Distribution, Measurements, RunEvent, Window, weighted_quantile
from scalelab.scenarios import apply_patch, load_scenario

SCENARIO = apply_patch(load_scenario("campaign-900"), {"topology.worker_hosts": 2, "apiserver.replicas": 2})


def test_weighted_quantile_is_the_inverse_cdf() -> None:
    values, weights = np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0])  # 1 x1, 2 x2, 3 x1
    assert weighted_quantile(values, weights, 0.25) == 1.0
    assert weighted_quantile(values, weights, 0.5) == 2.0
    assert weighted_quantile(values, weights, 0.75) == 2.0
    assert weighted_quantile(values, weights, 0.99) == 3.0
    assert weighted_quantile(np.empty(0), np.empty(0), 0.5) is None


@given(st.lists(st.tuples(st.floats(0, 1e3, allow_nan=False), st.integers(1, 20)), min_size=1, max_size=60),
       st.floats(0.01, 0.99))
def test_a_weighted_observation_is_that_many_observations(pairs: list[tuple[float, int]], q: float) -> None:
    values = np.array([v for v, _w in pairs])
    weights = np.array([float(w) for _v, w in pairs])
    expanded = np.repeat(values, [w for _v, w in pairs])
    ones = np.ones(len(expanded))
    assert weighted_quantile(values, weights, q) == weighted_quantile(expanded, ones, q)
    d = Distribution(values, weights)
    assert d.mean() == pytest.approx(float(expanded.mean()))


def _measurements() -> Measurements:
    rec = Recorder(10.0)
    cpu = {"0": [100.0, 200.0, 300.0, 900.0, 50.0], "1": [10.0, 10.0, 10.0, 10.0, 10.0]}
    for i, t in enumerate((10.0, 20.0, 30.0, 40.0, 50.0)):
        for api, series in cpu.items():
            rec.samples.append(Sample(t, f'apiserver_cpu_percent{{apiserver="{api}"}}', series[i]))
    for v in (0.1, 0.2, 0.3, 5.0):
        rec.observe("api_request_seconds", v)
    rec.observe("api_mutating_request_seconds", 0.5, weight=99.0)
    rec.observe("api_mutating_request_seconds", 7.0)
    rec.inc('apiserver_request_total{code="200"}', 90)
    rec.inc('apiserver_request_total{code="429"}', 10)
    rec.event(35.0, "deploy_started")
    rec.event(45.0, "deploy_finished")
    rec.final("pods_running_workload", 7.0)
    return rec.measurements()


def test_window_cpu_and_whole_run_latencies() -> None:
    s = summarise(_measurements(), Window(0.0, 30.0, 50.0), SCENARIO)
    assert s["apiserver_cpu_percent_mean"] == 200.0  # samples at 10, 20, 30 of the busiest
    assert s["apiserver_cpu_percent_min_mean"] == 10.0
    assert s["apiserver_cpu_percent_total_mean"] == 210.0
    assert s["apiserver_cpu_percent_deploy_mean"] == pytest.approx(475.0)  # the samples at 40 and 50 s
    assert s["apiserver_cpu_percent_deploy_max"] == 900.0
    assert s["api_response_seconds_p99"] == 5.0
    assert s["api_response_seconds_mean"] == pytest.approx(1.4)
    assert s["api_mutating_response_seconds_p99"] == 0.5  # 99 of 100 requests took 0.5 s
    assert s["api_429_share"] == 0.1
    assert s["pods_running"] == 7.0 + 2 * SCENARIO.nodes


def test_undefined_figures_are_none_not_zero() -> None:
    s = summarise(Measurements(sample_every=10.0, events=[RunEvent(0.0, "phase", "0:steady")]),
                  Window(0.0, None, 0.0), SCENARIO)
    for key in ("apiserver_cpu_percent_mean", "api_response_seconds_mean", "pod_startup_seconds_p99",
                "scheduling_sim_seconds", "antiaffinity_violations", "dns_queries_per_second",
                "node_proxy_reconnects_per_second", "api_429_share"):
        assert s[key] is None, key
