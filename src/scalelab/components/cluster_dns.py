"""Cluster DNS (1.5 era): the kube-dns Service, its replicas, and the lookups of the pods.

Clients (glibc resolver, resolv.conf ``ndots:5`` with the cluster's search domains): a lookup
of ``service.namespace`` tries ``<ns>.svc.cluster.local`` (NXDOMAIN), then
``svc.cluster.local`` (found), A and AAAA each: 4 queries. A REFUSED query is retried once
(``attempts:2``); a lookup fails when a query of it is refused twice or times out.

Fidelity: hybrid. Lookups arrive per tick as Poisson counts spread over the cluster's service
names; cache hits are counted in bulk; every miss is an individual event at its own time
within the tick (the forward table is where the symptom lives). kubedns decodes every
Service and Endpoints event it watches and holds every Service and ready address in memory.
Model card: docs/models/dns.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalelab.components.dnsmasq import ANSWER_TTL_SECONDS, Dnsmasq
from scalelab.components.kubedns import KubeDnsPod
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Dns as DnsSpec

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

class ClusterDns:
    """kube-dns replicas behind the kube-dns Service (kube-proxy spreads queries evenly).

    Names are (service, search try, record type); dnsmasq sends cluster names to kubedns and
    the others to the external resolver of the node's resolv.conf."""

    def __init__(self, engine: Engine, spec: DnsSpec, services: int, recorder: Recorder,
                 rng: np.random.Generator, backoff: tuple[float, float]) -> None:
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
        self._negative = per_lookup[1][::2]  # per search step (A and AAAA share it)

    @property
    def steps_per_lookup(self) -> int:
        return self.queries_per_lookup // 2

    def lookup_steps(self, service: int) -> list[tuple[int, int, bool]]:
        """A lookup of one Service's name as the resolver walks it: per search step the A and
        AAAA names and whether the step ends in NXDOMAIN (go on) or an answer (stop)."""
        base = service * self.queries_per_lookup
        return [(base + 2 * k, base + 2 * k + 1, bool(self._negative[k])) for k in range(self.steps_per_lookup)]

    def watch_event(self, resource: str, events: int, object_bytes: float) -> None:
        """A Service or Endpoints change: every running kubedns decodes it on its quota."""
        if resource not in ("services", "endpoints"):
            return
        work = events * object_bytes / self.spec.kubedns_decode_bytes_per_cpu_second
        for pod in self.pods:
            if self.engine.now >= pod.kubedns_down_until:
                pod.kubedns.burn(work, owner="kubedns-watch")

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
