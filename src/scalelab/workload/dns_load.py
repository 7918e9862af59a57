"""The ``dns_load`` phase: lookups at a fixed rate through the cluster DNS, as a client sees them.

Each lookup is a process that resolves a Service name as glibc does (``components.resolver``:
search list, A and AAAA together, 5 s timeout, 2 attempts). Not modelled: the dnsmasq thread's
CPU limit for these queries (they bypass its per-tick fluid queue), the ``clients`` count
(recorded; it changes nothing here).
Figures: ``dns_load_lookups_total``, ``dns_load_failed_lookups_total``,
``dns_load_latency_seconds_p50``/``_p99`` (successful lookups).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from scalelab.components.cluster_dns import ClusterDns
from scalelab.components.resolver import longest_lookup_seconds, lookup
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.model import DnsLoadPhase


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
        return self.end + longest_lookup_seconds(self.dns)

    def _next(self) -> None:
        gap = float(self.rng.exponential(1.0 / self.phase.rate))
        if self.engine.now + gap <= self.end:
            self.engine.schedule(gap, self._arrive)

    def _arrive(self) -> None:
        service = int(self.rng.integers(self.phase.services))
        self.engine.process(self._lookup(service))
        self._next()

    def _lookup(self, service: int) -> Generator[Event, Any, None]:
        started = self.engine.now
        self.recorder.inc("dns_load_lookups_total")
        resolved = yield from lookup(self.engine, self.dns, service, self.rng)
        if resolved:
            self.recorder.observe("dns_load_latency_seconds", self.engine.now - started)
        else:
            self.recorder.inc("dns_load_failed_lookups_total")
