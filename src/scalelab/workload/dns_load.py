"""The ``dns_load`` phase: lookups at a fixed rate through the cluster DNS, as a client sees them.

Each lookup is a process that walks the resolver's search list the way glibc does: for each
candidate name it sends A and AAAA together and waits for both, up to 5 s (``timeout:5``); a
REFUSED answer, a closed port or no answer in time is a failed attempt, retried once
(``attempts:2``); an NXDOMAIN moves to the next candidate; an answer ends the lookup. The lookup
fails when a query fails twice. Queries reach a replica chosen at random (kube-proxy spreads the
clients' flows) and go through its dnsmasq cache and forward table like every other query.
Not modelled: the dnsmasq thread's CPU limit for these queries (they bypass its per-tick fluid
queue), the ``clients`` count (recorded; it changes nothing here).
Figures: ``dns_load_lookups_total``, ``dns_load_failed_lookups_total``,
``dns_load_latency_seconds_p50``/``_p99`` (successful lookups).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from scalelab.components.cluster_dns import ClusterDns
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.model import DnsLoadPhase

#: glibc resolver defaults: 5 s per attempt, 2 attempts.
RESOLVER_TIMEOUT_SECONDS = 5.0
RESOLVER_ATTEMPTS = 2


class DnsLoad:
    def __init__(self, engine: Engine, phase: DnsLoadPhase, dns: ClusterDns, recorder: Recorder,
                 rng: np.random.Generator) -> None:
        self.engine = engine
        self.phase = phase
        self.dns = dns
        self.recorder = recorder
        self.rng = rng
        self.end = 0.0

    def start(self) -> float:
        """Start the arrivals; returns the time by which every lookup has ended."""
        self.end = self.engine.now + self.phase.duration
        self._next()
        return self.end + RESOLVER_ATTEMPTS * RESOLVER_TIMEOUT_SECONDS * self.dns.steps_per_lookup

    def _next(self) -> None:
        gap = float(self.rng.exponential(1.0 / self.phase.rate))
        if self.engine.now + gap <= self.end:
            self.engine.schedule(gap, self._arrive)

    def _arrive(self) -> None:
        service = int(self.rng.integers(self.phase.services))
        self.engine.process(self._lookup(service))
        self._next()

    def _query(self, name: int) -> Event:
        """One query to a replica picked by kube-proxy; the event fires with True (an answer)
        or False (REFUSED, closed port, forward timed out)."""
        answered = self.engine.event()
        pod = self.dns.pods[int(self.rng.integers(len(self.dns.pods)))]

        def result(ok: bool) -> None:
            if not answered.triggered:
                answered.succeed(ok)

        pod.dnsmasq.ask(name, result)
        return answered

    def _lookup(self, service: int) -> Generator[Event, Any, None]:
        started = self.engine.now
        self.recorder.inc("dns_load_lookups_total")
        for a_name, aaaa_name, negative in self.dns.lookup_steps(service):
            for attempt in range(RESOLVER_ATTEMPTS):
                both = self.engine.all_of([self._query(a_name), self._query(aaaa_name)])
                fired = yield self.engine.any_of([both, self.engine.timeout(RESOLVER_TIMEOUT_SECONDS)])
                if both in fired and all(fired[both].values()):
                    break
                if attempt == RESOLVER_ATTEMPTS - 1:
                    self.recorder.inc("dns_load_failed_lookups_total")
                    return
            if not negative:
                self.recorder.observe("dns_load_latency_seconds", self.engine.now - started)
                return
