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

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine
from scalelab.spec.model import Dns as DnsSpec

#: kubedns answer TTL (kube-dns 1.5 default for service records).
ANSWER_TTL_SECONDS = 30.0
#: dnsmasq gives up on a forward after 10 s (its forwarded-query timeout).
FORWARD_TIMEOUT_SECONDS = 10.0
#: dnsmasq rate-limits its "Maximum number of concurrent DNS queries reached" line.
MAX_QUERIES_LOG_EVERY_SECONDS = 6.0
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


class LivenessProbe:
    """A kubelet liveness probe: ``check`` every ``period``; no success within ``timeout`` is a
    failure; ``threshold`` failures in a row restart the container (kube-dns 1.5 manifest:
    period 10 s, timeout 5 s, failure threshold 5)."""

    def __init__(self, engine: Engine, check: Callable[[Callable[[bool], None]], None],
                 restart: Callable[[], None], first: float, period: float = 10.0, timeout: float = 5.0,
                 threshold: int = 5) -> None:
        self.engine = engine
        self.check = check
        self.restart = restart
        self.period = period
        self.timeout = timeout
        self.threshold = threshold
        self.failures = 0
        self._round = 0
        engine.schedule(first, self._probe)

    def _probe(self) -> None:
        self._round += 1
        current = self._round
        answered = [False]

        def result(ok: bool) -> None:
            if answered[0] or current != self._round:
                return
            answered[0] = True
            self._record(ok)

        self.check(result)
        self.engine.schedule(self.timeout, lambda: result(False))
        self.engine.schedule(self.period, self._probe)

    def _record(self, ok: bool) -> None:
        if ok:
            self.failures = 0
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.failures = 0
            self.restart()


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
        self.inflight: dict[int, list[int]] = {}  # name -> [entries held, forward id]
        self._forward_id = 0
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
        """One query that missed the cache (or found it expired meanwhile)."""
        now = self.engine.now
        if now < self.down_until:  # restarting: the port is closed, the resolver gives up
            self.recorder.inc("dns_queries_to_restarting_dnsmasq_total")
            on_failure(1)
            return
        if self.cached[name] and self.expiry[name] > now:
            self.hits += 1
            self.last_used[name] = now
            return
        self.misses += 1
        if self.in_use >= self.forward_max:
            self.refused += 1
            self.recorder.inc("dns_refused_total")
            if now - self._last_log >= MAX_QUERIES_LOG_EVERY_SECONDS:
                self._last_log = now
                self.recorder.inc("dnsmasq_max_concurrent_logged_total")
            if attempt < self.retries:
                self.query(name, attempt + 1, on_failure)
            else:
                on_failure(1)
            return
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        forward = self.inflight.get(name)
        if forward is not None:
            forward[0] += 1
            return
        self._forward_id += 1
        fid = self._forward_id
        self.inflight[name] = [1, fid]
        self.upstream(name, lambda: self._answered(name, fid, timed_out=False))
        self.engine.schedule(FORWARD_TIMEOUT_SECONDS, self._answered, name, fid, True, on_failure)

    def probe(self, name: int, result: Callable[[bool], None]) -> None:
        """The liveness probe's lookup through this dnsmasq (an answer, cached or forwarded,
        is a success; REFUSED or a closed port a failure)."""
        now = self.engine.now
        if now < self.down_until or self.in_use >= self.forward_max:
            result(False)
            return
        if self.cached[name] and self.expiry[name] > now:
            result(True)
            return
        self.in_use += 1
        generation = self.restarts

        def answered() -> None:
            if generation == self.restarts:  # a restart meanwhile already freed the entry
                self.in_use -= 1
                self._insert(name)
            result(True)

        self.upstream(name, answered)

    def restart(self, seconds: float, on_failure: Callable[[int], None]) -> None:
        """The container restarts: the cache is gone, forwards in flight fail."""
        self.recorder.inc("dnsmasq_restarts_total")
        self.restarts += 1
        self.cached[:] = False
        self.expiry[:] = -np.inf
        lost = sum(f[0] for f in self.inflight.values())
        self.inflight.clear()
        self.in_use = 0
        if lost:
            on_failure(lost)
        self.down_until = self.engine.now + seconds

    def _answered(self, name: int, fid: int, timed_out: bool,
                  on_failure: Callable[[int], None] | None = None) -> None:
        forward = self.inflight.get(name)
        if forward is None or forward[1] != fid:
            return  # answered already (or timed out already)
        del self.inflight[name]
        self.in_use -= forward[0]
        if timed_out:
            self.recorder.inc("dns_timeouts_total", forward[0])
            if on_failure is not None:
                on_failure(forward[0])
            return
        self._insert(name)

    def _insert(self, name: int) -> None:
        now = self.engine.now
        if not self.cached[name] and int(self.cached.sum()) >= self.cache_size:
            live = np.flatnonzero(self.cached)
            victim = live[np.argmin(self.last_used[live])]  # least recently used
            self.cached[victim] = False
        self.cached[name] = True
        self.expiry[name] = now + self.ttl[name]
        self.last_used[name] = now


class ClusterDns:
    """kube-dns replicas behind the kube-dns Service (kube-proxy spreads queries evenly).

    Names are (service, search try, record type); dnsmasq sends cluster names to kubedns and
    the others to the external resolver of the node's resolv.conf."""

    def __init__(self, engine: Engine, spec: DnsSpec, services: int, recorder: Recorder,
                 rng: np.random.Generator) -> None:
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
        self.kubedns = [Cores(engine, spec.kubedns_cpu_limit, f"kubedns-{i}") for i in range(spec.replicas)]
        self.kubedns_down_until = [-np.inf] * spec.replicas
        self.dnsmasq = [Dnsmasq(engine, self.names + 1, spec.cache_size, spec.dns_forward_max,
                                self._upstream(i), recorder, ttl=ttl) for i in range(spec.replicas)]
        self.probes: list[LivenessProbe] = []
        for i, dnsmasq in enumerate(self.dnsmasq):
            phase = float(rng.uniform(0.0, 10.0))
            self.probes.append(LivenessProbe(engine, partial(dnsmasq.probe, self.probe_name),
                                             partial(dnsmasq.restart, spec.dnsmasq_restart_seconds, self._failed),
                                             phase))
            self.probes.append(LivenessProbe(engine, partial(self._kubedns_probe, i),
                                             partial(self._restart_kubedns, i), phase))
        self.queries = 0
        self.lookups = 0

    def _upstream(self, replica: int) -> Callable[[int, Callable[[], None]], None]:
        cores = self.kubedns[replica]

        def forward(name: int, done: Callable[[], None]) -> None:
            if self.external[name]:
                self.engine.schedule(self.spec.external_dns_seconds, done)
            elif self.engine.now >= self.kubedns_down_until[replica]:
                cores.submit(self.spec.kubedns_query_cpu_seconds, done, owner="kubedns")
            # a restarting kubedns never answers: dnsmasq times the forward out

        return forward

    def _kubedns_probe(self, replica: int, done: Callable[[bool], None]) -> None:
        """kube-dns 1.5's healthz sidecar asks kubedns directly (port 10053)."""
        if self.engine.now < self.kubedns_down_until[replica]:
            done(False)
            return
        self.kubedns[replica].submit(self.spec.kubedns_query_cpu_seconds, done, True, owner="kubedns")

    def _restart_kubedns(self, replica: int) -> None:
        self.recorder.inc("kubedns_restarts_total")
        self.kubedns_down_until[replica] = self.engine.now + self.spec.kubedns_restart_seconds

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
        for r, dnsmasq in enumerate(self.dnsmasq):
            dnsmasq.lookup_batch(per_replica[:, r], window, self.rng, self._failed)

    def _failed(self, queries: int) -> None:
        self.recorder.inc("dns_lookup_failures_total", queries)
