"""Cluster DNS (1.5 era): per kube-dns replica a dnsmasq cache in front of kubedns.

dnsmasq, as it behaves (CATALOGUE.md facts, measured on a real dnsmasq):
- a cache of ``cache_size`` entries, least recently used evicted, answers kept for their TTL
  (kubedns answers carry 30 s); REFUSED answers are not cached;
- ``dns_forward_max`` forward entries: a loss system, no queue. A query that misses the cache
  needs a free entry, else it is answered REFUSED at once ("Maximum number of concurrent DNS
  queries reached", logged about once per 6 s however many are refused). A query for a name
  already being forwarded joins that forward (no new upstream query) but still takes an entry;
  entries are held until the upstream answers, or 10 s when it does not.
kubedns (the upstream) answers on its CPU limit: a processor-shared ``Cores`` of
``kubedns_cpu_limit`` threads, so its latency, and the forward entries' holding time, grow
with its load.

Clients (glibc resolver, resolv.conf ``ndots:5`` with the cluster's search domains): a lookup
of ``service.namespace`` tries ``<ns>.svc.cluster.local`` (NXDOMAIN), then
``svc.cluster.local`` (found), A and AAAA each: 4 queries. A REFUSED query is retried once
(``attempts:2``); a lookup fails when a query of it is refused twice or times out.

Fidelity: hybrid. Lookups arrive per tick as Poisson counts spread over the cluster's service
names; cache hits are counted in bulk; every miss is an individual event at its own time
within the tick (the forward table is where the symptom lives). Model card: docs/models/dns.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from scalelab.components.probes import ExecHealthz, LivenessProbe, RestartBackoff
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine, Timer
from scalelab.spec.model import Dns as DnsSpec

#: kubedns answer TTL (kube-dns 1.5 default for service records).
ANSWER_TTL_SECONDS = 30.0
#: dnsmasq gives up on a forward after 10 s (its forwarded-query timeout).
FORWARD_TIMEOUT_SECONDS = 10.0
#: dnsmasq rate-limits its "Maximum number of concurrent DNS queries reached" line.
MAX_QUERIES_LOG_EVERY_SECONDS = 6.0
#: A restarted exechealthz (a small static binary) serves /healthz within a second (assumption).
HEALTHZ_START_SECONDS = 1.0
#: Cluster search domains in a pod's resolv.conf (``<ns>.svc.cluster.local``,
#: ``svc.cluster.local``, ``cluster.local``).
CLUSTER_SEARCH_DOMAINS = 3


def query_names(form: str, host_search_domains: int) -> tuple[list[bool], list[bool]]:
    """The queries one lookup sends, per record type, as (goes to the external resolver,
    is a negative answer) flags, in order. ``service``: ``galera.ccp`` (one dot) is tried with
    ``<ns>.svc.cluster.local`` (NXDOMAIN) then ``svc.cluster.local`` (found). ``fqdn``:
    ``galera.ccp.svc.cluster.local`` (4 dots < ndots:5) is tried with the three cluster suffixes
    (NXDOMAIN from kubedns), then each host search domain (NXDOMAIN from the external resolver),
    then as it is (found)."""
    if form == "service":
        return [False, False], [True, False]
    external = [False] * CLUSTER_SEARCH_DOMAINS + [True] * host_search_domains + [False]
    negative = [True] * (CLUSTER_SEARCH_DOMAINS + host_search_domains) + [False]
    return external, negative


class DatagramServer:
    """dnsmasq's single thread under its CPU limit, as a fluid queue per tick: queries beyond
    what ``limit`` of a core serves at ``cost`` each wait in the socket buffer; beyond
    ``buffer`` queries the kernel drops them (the client hears nothing and retries after its
    timeout). The wait itself is short (a full 277-query buffer drains in ~70 ms at 100m),
    so only the drops are kept."""

    def __init__(self, cost: float, limit: float, buffer: int) -> None:
        self.cost = cost
        self.limit = limit
        self.buffer = buffer
        self.backlog = 0.0
        self.drop_share = 0.0
        self.busy_seconds = 0.0

    def offer(self, queries: float, window: float) -> float:
        """``queries`` arrive over ``window`` seconds; returns the share dropped."""
        backlog = self.backlog + queries
        served = min(backlog, self.limit * window / self.cost)
        self.busy_seconds += served * self.cost
        backlog -= served
        dropped = max(0.0, backlog - self.buffer)
        self.backlog = backlog - dropped
        self.drop_share = dropped / queries if queries > 0 else 0.0
        return self.drop_share


def _noop() -> None:
    pass


def _count_failure(on_failure: Callable[[int], None], ok: bool) -> None:
    if not ok:
        on_failure(1)


class Forward:
    """One name being forwarded upstream: the queries waiting on it (each holds an entry)
    and the 10 s timer that gives up on it."""

    __slots__ = ("name", "timeout", "waiters")

    def __init__(self, name: int, waiter: Callable[[bool], None]) -> None:
        self.name = name
        self.waiters = [waiter]
        self.timeout: Timer | None = None

    def cancel_timeout(self) -> None:
        if self.timeout is not None:
            self.timeout.cancel()


class Dnsmasq:
    """One dnsmasq: cache + forward table in front of an ``upstream(name, done)``."""

    def __init__(self, engine: Engine, names: int, cache_size: int, forward_max: int,
                 upstream: Callable[[int, Callable[[], None]], None], recorder: Recorder,
                 retries: int = 1, ttl: np.ndarray | None = None) -> None:
        self.engine = engine
        #: seconds an answer stays cached, per name (positive 30 s; negative: the SOA's TTL)
        self.ttl = ttl if ttl is not None else np.full(names, ANSWER_TTL_SECONDS)
        #: resolver retries of a refused query (glibc ``attempts:2`` = 1 retry, sent at once)
        self.retries = retries
        self.cache_size = cache_size
        self.forward_max = forward_max
        self.upstream = upstream
        self.recorder = recorder
        self.expiry = np.full(names, -np.inf)
        self.last_used = np.full(names, -np.inf)
        self.cached = np.zeros(names, dtype=bool)
        self.in_use = 0
        #: name -> its forward in flight (one answer callback per query holding an entry)
        self.inflight: dict[int, Forward] = {}
        self._last_log = -np.inf
        self.hits = 0
        self.misses = 0
        self.refused = 0
        self.peak = 0
        self.down_until = -np.inf
        self.restarts = 0

    def lookup_batch(self, counts: np.ndarray, window: float, rng: np.random.Generator,
                     on_failure: Callable[[int], None]) -> None:
        """Queries per name arriving over the next ``window`` seconds."""
        now = self.engine.now
        asked = np.flatnonzero(counts)
        valid = self.cached[asked] & (self.expiry[asked] > now)
        hit_names = asked[valid]
        self.hits += int(counts[hit_names].sum())
        self.last_used[hit_names] = now
        for name in asked[~valid].tolist():
            for t in np.sort(rng.uniform(0.0, window, int(counts[name]))).tolist():
                self.engine.schedule(t, self.query, name, 0, on_failure)

    def query(self, name: int, attempt: int, on_failure: Callable[[int], None]) -> None:
        """One workload query that missed the cache (or found it expired meanwhile)."""
        if self.engine.now < self.down_until:  # restarting: the port is closed, the resolver gives up
            self.recorder.inc("dns_queries_to_restarting_dnsmasq_total")
            on_failure(1)
            return
        if self._cached(name):
            return
        if not self._take_entry():
            if attempt < self.retries:
                self.query(name, attempt + 1, on_failure)
            else:
                on_failure(1)
            return
        self._forward(name, partial(_count_failure, on_failure))

    def ask(self, name: int, result: Callable[[bool], None]) -> None:
        """One lookup with an answer callback (the health checks' ``nslookup``): an answer,
        cached or forwarded, is True; REFUSED, a closed port or a forward timeout False."""
        if self.engine.now < self.down_until:
            result(False)
            return
        if self._cached(name):
            result(True)
            return
        if not self._take_entry():
            result(False)
            return
        self._forward(name, result)

    def _cached(self, name: int) -> bool:
        if self.cached[name] and self.expiry[name] > self.engine.now:
            self.hits += 1
            self.last_used[name] = self.engine.now
            return True
        self.misses += 1
        return False

    def _take_entry(self) -> bool:
        """A forward entry for a query that missed the cache, or REFUSED (False)."""
        if self.in_use >= self.forward_max:
            self.refused += 1
            self.recorder.inc("dns_refused_total")
            now = self.engine.now
            if now - self._last_log >= MAX_QUERIES_LOG_EVERY_SECONDS:
                self._last_log = now
                self.recorder.inc("dnsmasq_max_concurrent_logged_total")
            return False
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        return True

    def _forward(self, name: int, waiter: Callable[[bool], None]) -> None:
        """Send ``name`` upstream, or join its forward in flight (the entry is taken already)."""
        forward = self.inflight.get(name)
        if forward is not None:
            forward.waiters.append(waiter)
            return
        forward = self.inflight[name] = Forward(name, waiter)
        self.upstream(name, partial(self._answered, forward, False))
        forward.timeout = self.engine.schedule(FORWARD_TIMEOUT_SECONDS, self._answered, forward, True)

    def restart(self, down_seconds: float) -> None:
        """The container is gone for ``down_seconds``: the cache is lost, forwards in flight fail."""
        self.recorder.inc("dnsmasq_restarts_total")
        self.restarts += 1
        self.cached[:] = False
        self.expiry[:] = -np.inf
        lost = list(self.inflight.values())
        self.inflight.clear()
        self.in_use = 0
        self.down_until = self.engine.now + down_seconds
        for forward in lost:
            forward.cancel_timeout()
            for waiter in forward.waiters:
                waiter(False)

    def _answered(self, forward: Forward, timed_out: bool) -> None:
        name = forward.name
        if self.inflight.get(name) is not forward:
            return  # the upstream answering a forward that timed out or was lost in a restart
        del self.inflight[name]
        waiters = forward.waiters
        self.in_use -= len(waiters)
        if timed_out:
            self.recorder.inc("dns_timeouts_total", len(waiters))
        else:
            forward.cancel_timeout()
            self._insert(name)
        for waiter in waiters:
            waiter(not timed_out)

    def _insert(self, name: int) -> None:
        now = self.engine.now
        if not self.cached[name] and int(self.cached.sum()) >= self.cache_size:
            live = np.flatnonzero(self.cached)
            victim = live[np.argmin(self.last_used[live])]  # least recently used
            self.cached[victim] = False
        self.cached[name] = True
        self.expiry[name] = now + self.ttl[name]
        self.last_used[name] = now


class KubeDnsPod:
    """One kube-dns replica: dnsmasq in front of kubedns, their liveness checks, and the
    kubelet's restarts of each container (with the back-off of ``probes.RestartBackoff``).

    ``liveness: combined`` (Kargo's kubedns-rc.yml, before and after its PR 652): the only
    probe is on the kubedns container, and it reads the exechealthz sidecar, whose command
    looks the probe name up through dnsmasq and then asks kubedns directly. So a dnsmasq that
    refuses or is down gets *kubedns* killed, with nothing in kubedns's logs.
    ``liveness: split`` (later kube-dns): dnsmasq's probe looks up through dnsmasq and restarts
    dnsmasq; kubedns's probe asks kubedns and restarts kubedns."""

    def __init__(self, engine: Engine, index: int, spec: DnsSpec, backoff: tuple[float, float],
                 dnsmasq: Callable[[Callable[[int, Callable[[], None]], None]], Dnsmasq],
                 external: np.ndarray, probe_name: int, recorder: Recorder, phase: float,
                 rng: np.random.Generator) -> None:
        self.engine = engine
        self.rng = rng
        self.probe_name = probe_name
        limit = 1.0 if spec.dnsmasq_cpu_limit is None else min(1.0, spec.dnsmasq_cpu_limit)
        self.cpu = DatagramServer(spec.dnsmasq_query_cpu_seconds, limit, spec.dnsmasq_socket_queries)
        self.spec = spec
        self.recorder = recorder
        self.external = external
        self.kubedns = Cores(engine, spec.kubedns_cpu_limit, f"kubedns-{index}")
        self.kubedns_down_until = -np.inf
        self.kubedns_backoff = RestartBackoff(*backoff)
        self.dnsmasq_backoff = RestartBackoff(*backoff)
        self.dnsmasq = dnsmasq(self._upstream)
        probe_lookup = self._probe_lookup
        delay = spec.liveness_initial_delay_seconds
        self.dnsmasq_probe: LivenessProbe | None = None
        self.healthz: ExecHealthz | None = None
        self.healthz_backoff = RestartBackoff(*backoff)
        if spec.liveness == "combined":
            self.healthz = ExecHealthz(engine, (probe_lookup, self._ask_kubedns), phase,
                                       step_timeout=spec.probe_lookup_timeout_seconds)
            self.kubedns_probe = LivenessProbe(engine, self.healthz.healthy, self.kill_kubedns,
                                               phase + delay, initial_delay=delay)
        else:
            self.kubedns_probe = LivenessProbe(engine, self._ask_kubedns, self.kill_kubedns, phase + delay,
                                               initial_delay=delay)
            self.dnsmasq_probe = LivenessProbe(engine, probe_lookup, self.kill_dnsmasq, phase + delay,
                                               initial_delay=delay)

    def _probe_lookup(self, result: Callable[[bool], None]) -> None:
        """The health check's lookup through dnsmasq; dropped like the others when dnsmasq's
        thread cannot keep up (then it just times out)."""
        if self.cpu.drop_share > 0.0 and self.rng.random() < self.cpu.drop_share:
            return
        self.dnsmasq.ask(self.probe_name, result)

    def _upstream(self, name: int, done: Callable[[], None]) -> None:
        """dnsmasq's single server (kubedns, which recurses to the node's resolver for
        names outside the cluster domain)."""
        if self.external[name]:
            self.engine.schedule(self.spec.external_dns_seconds, done)
        elif self.engine.now >= self.kubedns_down_until:
            self.kubedns.submit(self.spec.kubedns_query_cpu_seconds, done, owner="kubedns")
        # a kubedns that is down never answers: dnsmasq times the forward out

    def _ask_kubedns(self, result: Callable[[bool], None]) -> None:
        """``nslookup ... 127.0.0.1:10053``: kubedns directly, on its CPU quota."""
        if self.engine.now < self.kubedns_down_until:
            return  # no answer: the step times out
        self.kubedns.submit(self.spec.kubedns_query_cpu_seconds, result, True, owner="kubedns")

    def kill_kubedns(self) -> None:
        """The kubelet kills kubedns and starts it again after its back-off; it answers once it
        has listed services and endpoints again."""
        now = self.engine.now
        wait = self.kubedns_backoff.wait(now)
        self.recorder.inc("kubedns_restarts_total")
        self.recorder.inc("kubedns_backoff_seconds_total", wait)
        self.kubedns.abandon("kubedns")  # a killed process answers nothing
        self.kubedns_down_until = now + wait + self.spec.kubedns_restart_seconds
        self.kubedns_probe.resume(now + wait)

    def kill_healthz(self) -> None:
        """The exechealthz sidecar is OOM-killed (kubernetes issue 29688: unexplained memory
        spikes of that container in production); the kubelet restarts it after its back-off.
        While it is down kubedns's probe gets connection refused."""
        if self.healthz is None:
            return  # split liveness: no exechealthz sidecar in this model
        now = self.engine.now
        wait = self.healthz_backoff.wait(now)
        self.recorder.inc("healthz_restarts_total")
        self.healthz.restart(wait + HEALTHZ_START_SECONDS)

    def kill_dnsmasq(self) -> None:
        """dnsmasq is killed (failed probe, or its memory limit): back after back-off + start."""
        now = self.engine.now
        wait = self.dnsmasq_backoff.wait(now)
        self.recorder.inc("dnsmasq_backoff_seconds_total", wait)
        self.dnsmasq.restart(wait + self.spec.dnsmasq_restart_seconds)
        if self.dnsmasq_probe is not None:
            self.dnsmasq_probe.resume(now + wait)


class ClusterDns:
    """kube-dns replicas behind the kube-dns Service (kube-proxy spreads queries evenly).

    Names are (service, search try, record type); dnsmasq sends cluster names to kubedns and
    the others to the external resolver of the node's resolv.conf."""

    def __init__(self, engine: Engine, spec: DnsSpec, services: int, recorder: Recorder,
                 rng: np.random.Generator, backoff: tuple[float, float] = (10.0, 300.0)) -> None:
        self.engine = engine
        self.spec = spec
        self.recorder = recorder
        self.rng = rng
        external, negative = query_names(spec.lookup_form, spec.host_search_domains)
        per_lookup = np.repeat(np.array(external), 2), np.repeat(np.array(negative), 2)  # A and AAAA
        self.queries_per_lookup = len(per_lookup[0])
        self.names = services * self.queries_per_lookup
        # one more name: the liveness probe's kubernetes.default.svc.cluster.local
        self.probe_name = self.names
        self.external = np.append(np.tile(per_lookup[0], services), False)
        ttl = np.append(np.where(np.tile(per_lookup[1], services), spec.negative_ttl_seconds, ANSWER_TTL_SECONDS),
                        ANSWER_TTL_SECONDS)

        def dnsmasq(upstream: Callable[[int, Callable[[], None]], None]) -> Dnsmasq:
            return Dnsmasq(engine, self.names + 1, spec.cache_size, spec.dns_forward_max, upstream, recorder,
                           ttl=ttl)

        self.pods = [KubeDnsPod(engine, i, spec, backoff, dnsmasq, self.external, self.probe_name, recorder,
                                float(rng.uniform(0.0, 10.0)), rng) for i in range(spec.replicas)]
        self.dnsmasq = [pod.dnsmasq for pod in self.pods]
        self.queries = 0
        self.lookups = 0
        self.memory_peak = 0.0

    def watch_event(self, resource: str, events: int, object_bytes: float) -> None:
        """A Service or Endpoints change: every running kubedns decodes it on its quota."""
        if resource not in ("services", "endpoints"):
            return
        work = events * object_bytes / self.spec.kubedns_decode_bytes_per_cpu_second
        for pod in self.pods:
            if self.engine.now >= pod.kubedns_down_until:
                pod.kubedns.submit(work, _noop, owner="kubedns-watch")

    def watch_memory(self, stored_objects: Callable[[], float], every: float = 10.0) -> None:
        """Every ``every`` seconds, kubedns's memory from what it stores (Services and
        Endpoints addresses); a running kubedns above its limit is OOM-killed and restarted
        through the back-off (it re-lists the same objects, so it dies again: CrashLoopBackOff)."""
        memory = self.spec.kubedns_memory_base_bytes + self.spec.kubedns_memory_per_object_bytes * stored_objects()
        self.memory_peak = max(self.memory_peak, memory)
        if memory > self.spec.kubedns_memory_limit:
            for pod in self.pods:
                if self.engine.now >= pod.kubedns_down_until:
                    self.recorder.inc("kubedns_oom_kills_total")
                    pod.kill_kubedns()
        self.engine.schedule(every, self.watch_memory, stored_objects, every)

    def finish(self, recorder: Recorder) -> None:
        """End-of-run: queries, cache hits and misses, forward peak, each dnsmasq thread's
        CPU, kubedns's memory peak."""
        recorder.final("dns_queries_total", float(self.queries))
        recorder.final("dns_cache_hits_total", float(sum(d.hits for d in self.dnsmasq)))
        recorder.final("dns_cache_misses_total", float(sum(d.misses for d in self.dnsmasq)))
        recorder.final("dns_forward_peak", float(max(d.peak for d in self.dnsmasq)))
        for i, pod in enumerate(self.pods):
            recorder.final(f'dnsmasq_cpu_seconds{{replica="{i}"}}', pod.cpu.busy_seconds)
        recorder.final("kubedns_memory_bytes_peak", self.memory_peak)

    def oom_kill_dnsmasq(self, replica: int) -> None:
        """An injected ``dnsmasq_oom`` fault: the container hit its memory limit."""
        self.pods[replica % len(self.pods)].kill_dnsmasq()

    def oom_kill_healthz(self, replica: int) -> None:
        """An injected ``healthz_oom`` fault: the exechealthz sidecar hit its 50Mi limit."""
        self.pods[replica % len(self.pods)].kill_healthz()

    def tick(self, pods: float, window: float) -> None:
        """Lookups of ``pods`` resolving service names over the next ``window`` seconds."""
        lookups = int(self.rng.poisson(pods * self.spec.lookups_per_pod_per_second * window))
        if lookups == 0:
            return
        self.lookups += lookups
        queries = lookups * self.queries_per_lookup
        self.queries += queries
        cells = self.names * len(self.dnsmasq)
        per_replica = self.rng.multinomial(queries, np.full(cells, 1.0 / cells))
        per_replica = per_replica.reshape(self.names, len(self.dnsmasq))
        for r, pod in enumerate(self.pods):
            counts = per_replica[:, r]
            share = pod.cpu.offer(float(counts.sum()), window)
            if share > 0.0:
                kept = self.rng.binomial(counts, 1.0 - share)
                dropped = int((counts - kept).sum())
                self.recorder.inc("dns_dropped_total", dropped)
                # the resolver resends a dropped query after its 5 s timeout; dropped again
                # (attempts:2), the lookup fails
                self._failed(int(self.rng.binomial(dropped, share)))
                counts = kept
            pod.dnsmasq.lookup_batch(counts, window, self.rng, self._failed)

    def _failed(self, queries: int) -> None:
        self.recorder.inc("dns_lookup_failures_total", queries)
