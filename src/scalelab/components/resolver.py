"""A pod's lookup of a Service name, as glibc's resolver makes it through the cluster DNS.

For each candidate name of the search list it sends A and AAAA together and waits for both, up
to 5 s (``timeout:5``); a REFUSED answer, a closed port or no answer in time is a failed attempt,
retried once (``attempts:2``); an NXDOMAIN moves to the next candidate; an answer ends the
lookup. The lookup fails when a query fails twice ("Name or service not known" to the caller).
Queries reach a kube-dns replica picked at random (kube-proxy spreads the flows) and go through
its dnsmasq cache and forward table like every other query.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from scalelab.components.cluster_dns import ClusterDns
from scalelab.sim import Engine, Event

#: glibc resolver defaults: 5 s per attempt, 2 attempts.
RESOLVER_TIMEOUT_SECONDS = 5.0
RESOLVER_ATTEMPTS = 2


def _query(engine: Engine, dns: ClusterDns, name: int, rng: np.random.Generator) -> Event:
    """One query to a replica picked by kube-proxy; fires with True (an answer) or False
    (REFUSED, closed port, forward timed out)."""
    answered = engine.event()
    pod = dns.pods[int(rng.integers(len(dns.pods)))]

    def result(ok: bool) -> None:
        if not answered.triggered:
            answered.succeed(ok)

    pod.dnsmasq.ask(name, result)
    return answered


def lookup(engine: Engine, dns: ClusterDns, service: int, rng: np.random.Generator) -> Generator[Event, Any, bool]:
    """Resolve one Service's name; returns True when it resolved."""
    for a_name, aaaa_name, negative in dns.lookup_steps(service):
        for attempt in range(RESOLVER_ATTEMPTS):
            both = engine.all_of([_query(engine, dns, a_name, rng), _query(engine, dns, aaaa_name, rng)])
            fired = yield engine.any_of([both, engine.timeout(RESOLVER_TIMEOUT_SECONDS)])
            if both in fired and all(fired[both].values()):
                break
            if attempt == RESOLVER_ATTEMPTS - 1:
                return False
        if not negative:
            return True
    return True


def longest_lookup_seconds(dns: ClusterDns) -> float:
    """The longest a lookup can take (every step timing out twice)."""
    return RESOLVER_ATTEMPTS * RESOLVER_TIMEOUT_SECONDS * dns.steps_per_lookup
