"""dnsmasq's forward table is a loss system; its cache an LRU with TTLs."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.components.dnsmasq import Dnsmasq
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine


def erlang_b(servers: int, load: float) -> float:
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def _refused_share(rate: float, hold: float, slots: int, queries: int = 40_000, seed: int = 5) -> float:
    engine = Engine()

    def upstream(_name: int, done: object) -> None:
        engine.schedule(hold, done)  # type: ignore[arg-type]

    dnsmasq = Dnsmasq(engine, queries, cache_size=1, forward_max=slots, upstream=upstream,
                      recorder=Recorder(), retries=0)
    times = np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate, queries))
    for i, t in enumerate(times.tolist()):
        engine.schedule(t, dnsmasq.query, i, 0, lambda _n: None)  # every name distinct: all miss
    engine.run(math.inf)
    return dnsmasq.refused / queries


@pytest.mark.parametrize(("rate", "slots"), [(80.0, 10), (120.0, 10), (1500.0, 150)])
def test_refused_share_near_capacity_follows_erlang_b(rate: float, slots: int) -> None:
    hold = 0.1
    assert _refused_share(rate, hold, slots) == pytest.approx(erlang_b(slots, rate * hold), rel=0.1)


def test_far_above_capacity_the_table_passes_exactly_its_capacity() -> None:
    rate, hold, slots = 2000.0, 0.1, 10
    share = _refused_share(rate, hold, slots)
    assert share == pytest.approx(1.0 - (slots / hold) / rate, abs=0.01)


def _hit_ratio(names: int, cache: int) -> float:
    engine = Engine()
    rng = np.random.default_rng(9)

    def upstream(_name: int, done: object) -> None:
        engine.schedule(0.001, done)  # type: ignore[arg-type]

    dnsmasq = Dnsmasq(engine, names, cache_size=cache, forward_max=10_000, upstream=upstream, recorder=Recorder())
    for step in range(600):
        counts = rng.multinomial(200, np.full(names, 1.0 / names))
        engine.schedule(0.0, dnsmasq.lookup_batch, counts, 0.1, rng, lambda _n: None)
        engine.run(0.1 * (step + 1))
    return dnsmasq.hits / (dnsmasq.hits + dnsmasq.misses)


def test_hit_ratio_falls_as_names_outgrow_the_cache() -> None:
    ratios = [_hit_ratio(200, cache) for cache in (1000, 150, 50)]
    assert ratios[0] > 0.95
    assert ratios[0] > ratios[1] > ratios[2]


def test_duplicate_queries_join_the_forward_but_take_entries() -> None:
    engine = Engine()
    upstream_calls: list[int] = []

    def upstream(name: int, done: object) -> None:
        upstream_calls.append(name)
        engine.schedule(1.0, done)  # type: ignore[arg-type]

    dnsmasq = Dnsmasq(engine, 5, cache_size=10, forward_max=3, upstream=upstream, recorder=Recorder(), retries=0)
    for _ in range(4):
        dnsmasq.query(0, 0, lambda _n: None)
    assert upstream_calls == [0] and dnsmasq.in_use == 3 and dnsmasq.refused == 1
    engine.run(2.0)
    assert dnsmasq.in_use == 0 and dnsmasq.cached[0]


def test_slow_external_resolver_fills_the_forward_table_and_the_fix_absorbs_it() -> None:
    from conftest import small
    from scalelab.runner import execute

    slow = {"dns.external_dns_seconds": "1s", "dns.dns_forward_max": 10}
    broken = execute(small(worker_hosts=20, deploy=True, steady="30s", extra=slow)).summary
    assert broken["dns_refused_total"] > 0 and broken["dns_lookup_failures_total"] > 0  # type: ignore[operator]
    fixed = execute(small(worker_hosts=20, deploy=True, steady="30s",
                          extra={**slow, "dns.dns_forward_max": 1000, "dns.replicas": 6})).summary
    assert fixed["dns_refused_total"] == 0 and fixed["dns_lookup_failures_total"] == 0
    fast = execute(small(worker_hosts=20, deploy=True, steady="30s", extra={"dns.dns_forward_max": 10})).summary
    assert fast["dns_refused_total"] == 0  # a 1 ms resolver keeps joins short


def test_dnsmasq_restart_flushes_cache_and_fails_inflight() -> None:
    engine = Engine()
    failed: list[int] = []
    dnsmasq = Dnsmasq(engine, 4, cache_size=10, forward_max=10, upstream=lambda n, d: None, recorder=Recorder())
    dnsmasq.cached[1] = True
    dnsmasq.expiry[1] = 100.0
    dnsmasq.query(0, 0, failed.append)  # forwarded, never answered
    dnsmasq.restart(2.0)
    assert failed == [1] and dnsmasq.in_use == 0 and not dnsmasq.cached.any()
    dnsmasq.query(2, 0, failed.append)  # the port is closed while it restarts
    assert failed == [1, 1]


def test_starved_kubedns_fails_its_probe_and_restarts() -> None:
    from scalelab.components.cluster_dns import ClusterDns
    from scalelab.spec.model import Dns

    engine, rec = Engine(), Recorder()
    spec = Dns(kubedns_cpu_limit=0.0002, negative_ttl_seconds=0.0, lookups_per_pod_per_second=5.0)
    dns = ClusterDns(engine, spec, services=10, recorder=rec, rng=np.random.default_rng(1), backoff=(10.0, 300.0))

    def tick() -> None:
        dns.tick(200.0, 1.0)
        engine.schedule(1.0, tick)

    tick()
    engine.run(300.0)
    assert rec.counters["kubedns_restarts_total"] >= 1


@pytest.mark.parametrize(("offered", "limit"), [(2_000.0, 0.1), (8_000.0, 0.1), (20_000.0, 1.0)])
def test_dnsmasq_thread_drops_what_its_cpu_limit_cannot_serve(offered: float, limit: float) -> None:
    from scalelab.components.dnsmasq import DatagramServer

    cost = 25e-6
    server = DatagramServer(cost, limit, buffer=277)
    shares = [server.offer(offered, 1.0) for _ in range(60)]
    capacity = limit / cost
    expected = max(0.0, 1.0 - capacity / offered)
    assert shares[-1] == pytest.approx(expected, abs=1e-9)  # steady state: the fluid balance
    assert server.backlog <= 277


def test_a_starved_dnsmasq_thread_fails_lookups_and_the_fix_does_not() -> None:
    from conftest import small
    from scalelab.runner import execute

    starved = {"dns.dnsmasq_cpu_limit": 0.0005}
    broken = execute(small(worker_hosts=10, deploy=True, steady="30s", extra=starved)).summary
    assert broken["dns_dropped_total"] > 0 and broken["dns_lookup_failures_total"] > 0  # type: ignore[operator]
    assert 0.0 < broken["dnsmasq_cpu_percent_mean"] <= 0.05 + 1e-9  # type: ignore[operator]  # its 0.0005 core
    fixed = execute(small(worker_hosts=10, deploy=True, steady="30s", extra={"dns.dnsmasq_cpu_limit": 1.0})).summary
    assert fixed["dns_dropped_total"] == 0
    assert fixed["dnsmasq_cpu_percent_mean"] > broken["dnsmasq_cpu_percent_mean"]  # type: ignore[operator]


def test_rule_flags_a_low_dnsmasq_cpu_limit_even_with_replicas_and_forward_max_fixed() -> None:
    from scalelab.catalogue import kubedns
    from scalelab.scenarios import load_scenario
    from scalelab.spec.loader import apply_patch

    fixed = load_scenario("campaign-900-fixed")
    assert kubedns.rule(fixed) is None
    limited = apply_patch(fixed, {"dns.dnsmasq_cpu_limit": "100m"})
    finding = kubedns.rule(limited)
    assert finding is not None and "dnsmasq CPU limit 0.1" in finding.evidence.value


@given(st.lists(st.tuples(st.sampled_from(["query", "ask", "restart", "wait"]), st.integers(0, 5),
                          st.floats(0.0, 12.0)), max_size=60))
@settings(max_examples=60, deadline=None)
def test_forward_table_accounting_holds_under_any_sequence(steps: list[tuple[str, int, float]]) -> None:
    """Entries in use always equal the queries waiting on forwards, within [0, forward_max],
    whatever mix of lookups, restarts and upstream delays (some never answered)."""
    engine = Engine()

    def upstream(name: int, done: object) -> None:
        if name != 5:  # name 5's upstream never answers: dnsmasq times it out
            engine.schedule(0.5 * name, done)  # type: ignore[arg-type]

    dnsmasq = Dnsmasq(engine, 6, cache_size=3, forward_max=4, upstream=upstream, recorder=Recorder())
    answers: list[bool] = []
    for action, name, dt in steps:
        if action == "query":
            dnsmasq.query(name, 0, lambda _n: None)
        elif action == "ask":
            dnsmasq.ask(name, answers.append)
        elif action == "restart":
            dnsmasq.restart(1.0)
        else:
            engine.run(engine.now + dt)
        waiting = sum(len(forward.waiters) for forward in dnsmasq.inflight.values())
        assert 0 <= dnsmasq.in_use <= dnsmasq.forward_max
        assert dnsmasq.in_use == waiting
    engine.run(engine.now + 30.0)
    assert dnsmasq.in_use == 0 and not dnsmasq.inflight  # everything answered or timed out


def test_detector_fires_on_any_of_the_reports_dns_symptoms() -> None:
    from scalelab.catalogue import kubedns
    from scalelab.catalogue.entry import RunView

    quiet = {name: 0.0 for name in kubedns.SYMPTOMS}
    assert kubedns.detect(RunView(quiet, {})) is None
    for name in kubedns.SYMPTOMS:
        finding = kubedns.detect(RunView({**quiet, name: 3.0}, {}))
        assert finding is not None and finding.evidence.metric == name


def test_a_refused_query_retried_by_the_client_is_one_miss() -> None:
    # One forward entry, held by a name whose answer takes 5 s: every other query is refused,
    # retried at once (attempts:2), refused again. Each is one client query: one miss.
    engine = Engine()

    def upstream(_name: int, done: object) -> None:
        engine.schedule(5.0, done)  # type: ignore[arg-type]

    failed: list[int] = []
    dnsmasq = Dnsmasq(engine, 10, cache_size=10, forward_max=1, upstream=upstream, recorder=Recorder(), retries=1)
    dnsmasq.query(0, 0, failed.append)
    for name in range(1, 4):
        dnsmasq.query(name, 0, failed.append)
    assert dnsmasq.refused == 6  # three queries, each refused twice
    assert failed == [1, 1, 1]
    assert dnsmasq.misses == 4 and dnsmasq.hits == 0
    engine.run(10.0)
    dnsmasq.query(0, 0, failed.append)  # now cached
    assert dnsmasq.hits == 1 and dnsmasq.misses == 4


class _EveryQueryAnEvent(Dnsmasq):
    """The reference: each query of a missed name is an event of its own (what the arrival chain
    of ``lookup_batch`` must reproduce with far fewer events)."""

    def lookup_batch(self, counts: np.ndarray, window: float, rng: np.random.Generator,
                     on_failure: Callable[[int], None]) -> None:
        now = self.engine.now
        asked = np.flatnonzero(counts)
        valid = self.cached[asked] & (self.expiry[asked] > now)
        self.hits += int(counts[asked[valid]].sum())
        self.last_used[asked[valid]] = now
        for name in asked[~valid].tolist():
            for t in np.sort(rng.uniform(0.0, window, int(counts[name]))).tolist():
                self.engine.schedule(t, self.query, name, 0, on_failure)


def _chain_counters(cls: type[Dnsmasq], seed: int, names: int, forward_max: int, delay: float,
                    restart_at: float | None) -> tuple[tuple[int, ...], int]:
    engine = Engine()
    rng = np.random.default_rng(seed)
    failures = [0]

    def upstream(_name: int, done: Callable[[], None]) -> None:
        engine.schedule(delay, done)

    def failed(n: int) -> None:
        failures[0] += n

    dnsmasq = cls(engine, names, cache_size=names, forward_max=forward_max, upstream=upstream, recorder=Recorder(),
                  ttl=np.full(names, 2.0))
    if restart_at is not None:
        engine.schedule(restart_at, dnsmasq.restart, 0.7)
    for step in range(40):
        counts = rng.poisson(30.0, names)
        engine.at(0.25 * step, dnsmasq.lookup_batch, counts, 0.25, rng, failed)
    engine.run(20.0)
    return (dnsmasq.hits, dnsmasq.misses, dnsmasq.refused, dnsmasq.peak, failures[0]), engine.events_processed


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 40), st.sampled_from([0.001, 0.02, 0.3]),
       st.sampled_from([None, 1.0, 3.25]))
def test_the_arrival_chain_counts_what_one_event_per_query_counts(seed: int, names: int, forward_max: int,
                                                                 delay: float, restart_at: float | None) -> None:
    # a restart lands on a tick boundary (the chain's one approximation is a restart inside a
    # tick after a name was answered: the tick's later queries of it count as hits)
    chained, chain_events = _chain_counters(Dnsmasq, seed, names, forward_max, delay, restart_at)
    reference, reference_events = _chain_counters(_EveryQueryAnEvent, seed, names, forward_max, delay, restart_at)
    assert chained == reference
    assert chain_events <= reference_events
