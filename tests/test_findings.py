"""Findings that match the run: measured figure and scale, severity by harm, upstream's SLOs."""

from __future__ import annotations

from scalelab.assess import detect_all
from scalelab.catalogue.entry import RunView
from scalelab.scenarios import load_scenario

SCENARIO = load_scenario("campaign-900")  # image pull 10 s


def _findings(**summary: float) -> dict[str, tuple[str, str | None, str]]:
    found = detect_all(RunView({"nodes": 900.0, **summary}, {}, SCENARIO))
    return {f.id: (f.severity, f.evidence.value, f.fix) for f in found}


def test_a_symptom_without_harm_is_a_warning_with_its_figure_and_scale() -> None:
    found = _findings(node_proxy_reconnects_per_second=270.0, api_mutating_response_seconds_p99=0.015)
    severity, value, _fix = found["apiserver-reconnect-storm"]
    assert severity == "warning"
    assert value == "node_proxy_reconnects_per_second = 270 at 900 nodes"
    assert set(found) == {"apiserver-reconnect-storm"}


def test_a_symptom_that_breaks_an_slo_is_an_error_and_the_slo_points_to_it() -> None:
    found = _findings(node_proxy_reconnects_per_second=270.0, api_mutating_response_seconds_p99=2.5)
    assert found["apiserver-reconnect-storm"][0] == "error"
    severity, value, fix = found["slo-api-mutating-latency"]
    assert severity == "error" and value is not None and "2.5 s against 1 s at 900 nodes" in value
    assert "apiserver-reconnect-storm" in fix


def test_failed_handshakes_are_harm_too() -> None:
    found = _findings(node_proxy_reconnects_per_second=270.0, tls_handshake_failures_total=12.0)
    assert found["apiserver-reconnect-storm"][0] == "error"


def test_slow_start_up_points_to_the_scheduler_when_scheduling_dominates() -> None:
    found = _findings(pod_startup_seconds_p99=1225.0, scheduling_sim_seconds=1438.0)
    severity, value, fix = found["slo-pod-startup"]
    assert severity == "error" and value is not None and "without the image pull" in value
    assert "scheduler-antiaffinity-slow" in fix


def test_start_up_is_judged_without_the_image_pull_as_the_slo_defines_it() -> None:
    assert "slo-pod-startup" not in _findings(pod_startup_seconds_p99=13.0, scheduling_sim_seconds=3.0)
    assert "slo-pod-startup" in _findings(pod_startup_seconds_p99=16.0, scheduling_sim_seconds=3.0)


def test_dns_refusals_the_resolver_rode_out_are_a_warning_failures_an_error() -> None:
    assert _findings(dns_refused_total=40.0)["kubedns-overload"][0] == "warning"
    assert _findings(dns_refused_total=40.0, dns_lookup_failures_total=3.0)["kubedns-overload"][0] == "error"
