"""memcached's connection limit: SYNs retransmitted while it is full, connects that give up at
the client's socket timeout, and the clients that hold connections (per greenthread, pooled)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.components.openstack.cache_clients import DEAD, CacheClients
from scalelab.components.openstack.http_clients import HttpClients
from scalelab.components.openstack.memcached import FDS_OWN, FDS_PER_THREAD, Memcached, syn_times
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.openstack import Memcached as MemcachedSpec
from test_openstack import run, scenario


def _memcached(clients: int) -> tuple[Engine, Memcached]:
    engine = Engine()
    spec = MemcachedSpec(max_connections=clients + FDS_OWN + FDS_PER_THREAD * 4)
    return engine, Memcached(spec, Recorder(), engine)


def test_syns_leave_at_linux_doubling_retransmission_times() -> None:
    assert syn_times(1.0) == [0.0]
    assert syn_times(3.0) == [0.0, 1.0]
    assert syn_times(10.0) == [0.0, 1.0, 3.0, 7.0]


def test_a_full_memcached_accepts_at_a_retransmission_after_a_close_else_the_client_gives_up() -> None:
    engine, mc = _memcached(clients=2)
    got: dict[str, tuple[float, int | None]] = {}

    def client(name: str, start: float, hold: float) -> Generator[Event, Any, None]:
        yield engine.timeout(start)
        epoch = yield from mc.connect(3.0)
        got[name] = (engine.now, epoch)
        if epoch is not None:
            yield engine.timeout(hold)
            mc.release(epoch)

    engine.process(client("a", 0.0, 0.5))   # closes at 0.5 s
    engine.process(client("b", 0.0, 10.0))
    engine.process(client("c", 0.1, 10.0))  # full: its SYN at 1.1 s finds a's slot
    engine.process(client("d", 0.2, 10.0))  # full at 0.2 and 1.2 s: gives up at 3.2 s
    engine.run(until=20.0)
    assert got["a"] == (0.0, 0) and got["b"] == (0.0, 0)
    assert got["c"][0] == 1.1 and got["c"][1] == 0
    assert got["d"][0] == 3.2 and got["d"][1] is None
    assert (mc.retransmits, mc.connect_timeouts, mc.peak_connections) == (2, 1, 2)


def test_a_killed_memcached_drops_its_connections_and_stale_closes_change_nothing() -> None:
    engine, mc = _memcached(clients=1)
    first = engine.process(mc.connect(3.0))
    engine.run(until=1.0)
    assert first.value == 0 and mc.connections == 1
    mc.kill()
    mc.release(0)  # a client closing a connection of the dead memcached
    assert mc.connections == 0
    mc.available = True
    again = engine.process(mc.connect(3.0))
    engine.run(until=2.0)
    assert again.value == 1 and mc.connections == 1


@settings(max_examples=40, deadline=None)
@given(clients=st.integers(1, 6), pooled=st.integers(0, 3),
       starts=st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(0.0, 4.0), st.integers(1, 3)),
                       min_size=1, max_size=25))
def test_connections_never_pass_the_limit_and_all_close(clients: int, pooled: int,
                                                        starts: list[tuple[float, float, int]]) -> None:
    """Whatever the requests' times, holds and cache operations: memcached never holds more
    than its client limit, a pooled process never opens more than its maxsize, and once every
    request is over the per-greenthread connections are all closed."""
    engine, mc = _memcached(clients)
    cache = CacheClients(mc, 3.0, pooled)
    processes = [object(), object()]

    class Holder:
        mc: int | None = None

    def request(i: int, start: float, hold: float, ops: int) -> Generator[Event, Any, None]:
        yield engine.timeout(start)
        holder, process = Holder(), processes[i % 2]
        for _ in range(ops):
            conn = yield from cache.begin(holder, process)
            assert mc.connections <= mc.max_clients
            if conn != DEAD:
                yield engine.timeout(hold / ops)
                cache.end(conn, process)
        cache.close(holder)

    for i, (start, hold, ops) in enumerate(starts):
        engine.process(request(i, start, hold, ops))
    engine.run(until=100.0)
    assert mc.peak_connections <= mc.max_clients
    if pooled:
        assert mc.connections <= pooled * len(processes)
    else:
        assert mc.connections == 0


def _slow(out: dict[str, Any], name: str, seconds: float = 3.0) -> int:
    """Requests that took at least ``seconds`` (a connect that waited out the socket timeout)."""
    return int((np.asarray(out["dist"][name].values) >= seconds).sum())


def _boot_and_list(concurrency: int) -> dict[str, Any]:
    return {"NovaServers.boot_and_list_server": [
        {"runner": {"type": "constant", "times": 120, "concurrency": concurrency},
         "context": {"users": {"tenants": 4, "users_per_tenant": 2}}}]}


#: one keystone process (its pooled cache holds one connection); memcached's limit leaves 12
#: connections for the services' requests
SMALL = {"keystone": {"replicas": 1, "processes": 1},
         "memcached": {"max_connections": 12 + 1 + FDS_OWN + FDS_PER_THREAD * 4}}


def test_requests_past_the_connection_limit_wait_for_retransmissions_and_time_out(tmp_path: Path) -> None:
    """Clients that close after each request: each request in flight holds its greenthread's
    connection; past the limit SYNs are retransmitted, connects give up after 3 s (validated at
    keystone instead) and the requests slow down; fuel-ccp's later -c 16384 removes it all."""
    per_request = {**SMALL, "wsgi_keep_alive": False}
    low = run(scenario(tmp_path, _boot_and_list(4), per_request))
    high = run(scenario(tmp_path, _boot_and_list(40), per_request))
    fixed = run(scenario(tmp_path, _boot_and_list(40), {**per_request, "memcached": {"max_connections": 16384}}))
    assert low["finals"]["memcached_connect_timeouts_total"] == 0
    assert high["finals"]["memcached_connections_peak"] == 13
    assert high["finals"]["memcached_syn_retransmits_total"] > 0
    assert high["finals"]["memcached_connect_timeouts_total"] > 0
    assert fixed["finals"]["memcached_connect_timeouts_total"] == 0
    assert fixed["finals"]["memcached_connections_peak"] > 13
    nova = 'openstack_request_seconds{service="nova-api"}'
    assert _slow(high, nova) > _slow(fixed, nova) and _slow(low, nova) == 0
    assert high["counters"]["keystone_validations_total"] > fixed["counters"]["keystone_validations_total"]


def test_kept_alive_connections_pin_memcached_sockets_between_requests(tmp_path: Path) -> None:
    """With keep-alive (the services' default) a connection a client keeps idle keeps its
    greenthread's memcached socket: 8 Rally users and 10 computes' sessions hold more than 12
    connections at a concurrency of 4, where closing clients held 4."""
    kept = run(scenario(tmp_path, _boot_and_list(4), SMALL))
    closing = run(scenario(tmp_path, _boot_and_list(4), {**SMALL, "wsgi_keep_alive": False}))
    roomy = run(scenario(tmp_path, _boot_and_list(4), {**SMALL, "memcached": {"max_connections": 16384}}))
    assert closing["finals"]["memcached_connections_peak"] <= 4 + 1
    assert kept["finals"]["memcached_connections_peak"] == 13
    assert kept["finals"]["memcached_connect_timeouts_total"] > 0
    assert roomy["finals"]["memcached_connections_peak"] > 13
    assert roomy["finals"]["openstack_http_connections_peak"] >= 8  # at least one per Rally user
    assert "openstack_http_connections_peak" not in closing["finals"]


def test_the_advanced_pool_bounds_each_process_and_stays_under_the_limit(tmp_path: Path) -> None:
    """keystonemiddleware's eventlet-safe pool: a connection lent per operation, at most
    ``advanced_pool_maxsize`` per process, so 40 requests in flight fit in 12 connections."""
    out = run(scenario(tmp_path, _boot_and_list(40),
                       {**SMALL, "nova": {"replicas": 1, "api_workers": 2},
                        "neutron": {"replicas": 1, "api_workers": 2}, "glance": {"replicas": 1, "api_workers": 2},
                        "memcached": {**SMALL["memcached"], "advanced_pool": True, "advanced_pool_maxsize": 2}}))
    assert out["finals"]["memcached_connect_timeouts_total"] == 0
    assert 1 < out["finals"]["memcached_connections_peak"] <= 1 + 2 * 6


class _FakeApi:
    """What HttpClients reads of a service: its name, its pods' restart epochs, its cache."""

    def __init__(self, name: str, cache: CacheClients, pods: int = 2) -> None:
        self.name = name
        self.cache = cache
        self.processes = type("Procs", (), {"epoch": [0] * pods})()


def _kept(engine: Engine, mc: Memcached, api: _FakeApi, http: HttpClients, client: str,
          hold: float, pod: int = 0, start: float = 0.0) -> Generator[Event, Any, None]:
    """One request of ``client`` at ``start`` that touches the cache once and holds ``hold``
    seconds."""
    yield engine.timeout(start)
    conn = http.checkout(client, api)  # type: ignore[arg-type]
    if conn.mc is None:
        conn.mc = yield from mc.connect(3.0)
    yield engine.timeout(hold)
    http.checkin(client, api, conn, pod, dead=False)  # type: ignore[arg-type]


def test_a_kept_connection_is_reused_and_closes_when_idle_past_the_server_timeout() -> None:
    engine, mc = _memcached(clients=10)
    api = _FakeApi("nova-api", CacheClients(mc, 3.0))
    http = HttpClients(engine, dead_retry=30.0, pool_maxsize=10, idle_timeout=900.0)
    for start in (0.0, 10.0, 20.0):  # one after another: the same connection each time
        engine.process(_kept(engine, mc, api, http, "user-a", 1.0, start=start))
    engine.run(until=100.0)
    assert (http.peak, mc.peak_connections, mc.connections) == (1, 1, 1)
    engine.run(until=1000.0)  # idle since 21 s: the server closed it at 921 s
    assert (http.open, mc.connections) == (0, 0)


def test_a_full_client_pool_discards_connections_and_a_dropped_session_closes_its_own() -> None:
    engine, mc = _memcached(clients=50)
    api = _FakeApi("neutron-server", CacheClients(mc, 3.0))
    http = HttpClients(engine, dead_retry=30.0, pool_maxsize=2, idle_timeout=900.0)
    for _ in range(5):  # five at once: five connections, two kept idle after
        engine.process(_kept(engine, mc, api, http, "heat-engine:stack-1", 1.0))
    engine.process(_kept(engine, mc, api, http, "nova-compute:3", 1.0))
    engine.run(until=5.0)
    assert http.peak == 6 and mc.peak_connections == 6
    assert (http.open, mc.connections) == (3, 3)
    http.close_client("heat-engine:stack-1")
    assert (http.open, mc.connections) == (1, 1)


def test_connections_of_a_restarted_pod_are_reset() -> None:
    engine, mc = _memcached(clients=50)
    api = _FakeApi("glance-api", CacheClients(mc, 3.0))
    http = HttpClients(engine, dead_retry=30.0)
    engine.process(_kept(engine, mc, api, http, "user-a", 1.0, pod=1))
    engine.process(_kept(engine, mc, api, http, "user-b", 1.0, pod=0))
    engine.run(until=5.0)
    api.processes.epoch[1] += 1
    http.drop(api, 1)  # type: ignore[arg-type]
    assert (http.open, mc.connections) == (1, 1)
    conn = http.checkout("user-a", api)  # type: ignore[arg-type]
    assert conn.mc is None  # a new connection: its greenthread has no memcached socket yet


def test_a_greenthread_whose_socket_died_with_memcached_reconnects_and_is_counted() -> None:
    engine, mc = _memcached(clients=5)
    cache = CacheClients(mc, 3.0)

    class Holder:
        mc: int | None = None

    holder = Holder()
    first = engine.process(cache.begin(holder, None))
    engine.run(until=1.0)
    assert first.value == 0 and mc.connections == 1
    mc.kill()
    mc.available = True
    again = engine.process(cache.begin(holder, None))
    engine.run(until=2.0)
    assert again.value == 1 and mc.connections == 1
    cache.close(holder)
    assert mc.connections == 0


def _stacks(concurrency: int) -> dict[str, Any]:
    return {"HeatStacks.create_and_delete_stack": [
        {"args": {"servers": 3}, "runner": {"type": "constant", "times": 2 * concurrency, "concurrency": concurrency},
         "context": {"users": {"tenants": 2, "users_per_tenant": 1}}}]}


def test_stacks_in_flight_each_keep_their_sessions_connections(tmp_path: Path) -> None:
    """heat-engine's clients are per stack: more stacks at once keep more connections (and
    memcached sockets) open (a dropped session's closing: the HttpClients tests above)."""
    few = run(scenario(tmp_path, _stacks(2)))
    many = run(scenario(tmp_path, _stacks(8)))
    assert many["finals"]["openstack_http_connections_peak"] > 2 * few["finals"]["openstack_http_connections_peak"]
    assert many["finals"]["memcached_connections_peak"] > few["finals"]["memcached_connections_peak"]
