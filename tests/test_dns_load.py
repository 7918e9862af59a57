"""The dns_load phase: glibc-style lookups at a fixed rate, as the client sees them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from scalelab.runner import execute
from scalelab.scenarios import apply_patch, load_scenario


def _run(load: dict[str, Any], **extra: Any) -> dict[str, float | None]:
    sc = apply_patch(load_scenario("campaign-900"), {
        "topology.worker_hosts": 1, "node_proxy.proxy_timeout": "10m", **extra,
        "workload": [{"kind": "steady", "duration": "10s"}, {"kind": "dns_load", "duration": "20s", **load}]})
    return execute(sc).summary


def test_lookups_arrive_at_the_rate_and_a_roomy_dns_answers_them_all() -> None:
    s = _run({"rate": 100, "services": 50}, **{"dns.dns_forward_max": 1000, "dns.cache_size": 10000,
                                               "dns.kubedns_cpu_limit": 1.0})
    expected = 100 * 20
    assert s["dns_load_lookups_total"] is not None
    assert abs(s["dns_load_lookups_total"] - expected) <= 4 * math.sqrt(expected)  # Poisson
    assert s["dns_load_failed_lookups_total"] == 0
    # two search steps, each answered from the cache or by kubedns within milliseconds
    assert s["dns_load_latency_seconds_p99"] is not None and s["dns_load_latency_seconds_p99"] < 0.05


def test_a_silent_external_resolver_fails_every_full_name_lookup() -> None:
    # fqdn form with one host search domain: the fourth candidate goes to the node's resolver.
    # When it never answers in time, the client's two 5 s attempts run out: every lookup fails.
    roomy = {"dns.dns_forward_max": 1000, "dns.cache_size": 10000, "dns.kubedns_cpu_limit": 1.0}
    silent = _run({"rate": 20, "services": 50, "form": "fqdn"}, **roomy, **{"dns.external_dns_seconds": 60})
    assert silent["dns_load_lookups_total"] is not None
    assert silent["dns_load_failed_lookups_total"] == silent["dns_load_lookups_total"]
    prompt = _run({"rate": 20, "services": 50, "form": "fqdn"}, **roomy)
    assert prompt["dns_load_failed_lookups_total"] == 0
    # five candidates, the fourth answered by the external resolver (1 ms) when not cached
    assert prompt["dns_load_latency_seconds_p99"] is not None and prompt["dns_load_latency_seconds_p99"] < 0.05


def test_without_a_dns_load_phase_its_figures_are_undefined() -> None:
    sc = apply_patch(load_scenario("campaign-900"), {"topology.worker_hosts": 1,
                                                     "workload": [{"kind": "steady", "duration": "10s"}]})
    s = execute(sc).summary
    assert s["dns_load_lookups_total"] is None and s["dns_load_latency_seconds_p50"] is None


def _erlang_b(servers: int, load: float) -> float:
    """Erlang's loss formula by its recursion (independent of the model)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


@pytest.mark.parametrize("rate", [80.0, 200.0])
def test_lookup_loss_follows_erlang_b_of_the_forward_table(rate: float) -> None:
    # Every lookup is of a fresh name (100,000 Services, a one-entry cache), so each of its
    # queries needs a dnsmasq forward entry until kubedns answers, after exactly `hold` seconds
    # (kubedns never CPU-bound). A lookup's A and AAAA queries take two entries at once, and its
    # second search step takes them again the instant the first is answered: an admitted lookup
    # holds one *pair* of entries for 2 x hold, and it is lost when no pair is free on arrival.
    # With Poisson arrivals the lost share is Erlang-B over forward_max / 2 servers at an offered
    # load of rate x 2 x hold (insensitive to the constant holding time).
    slots, hold = 20, 0.05
    s = _run({"rate": rate, "services": 100_000, "form": "service", "duration": "60s"},
             **{"dns.dns_forward_max": slots, "dns.cache_size": 1, "dns.kubedns_cpu_limit": 1000,
                "dns.kubedns_query_cpu_seconds": hold})
    assert s["dns_load_failed_share"] == pytest.approx(_erlang_b(slots // 2, rate * 2 * hold), rel=0.1)
