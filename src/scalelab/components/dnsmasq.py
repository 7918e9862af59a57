"""dnsmasq as kube-dns 1.5 ran it: a cache and a forward table in front of one upstream
(kubedns), on a single thread.

As it behaves (CATALOGUE.md facts, measured on a real dnsmasq):
- a cache of ``cache_size`` entries, least recently used evicted, answers kept for their TTL
  (kubedns answers carry 30 s); REFUSED answers are not cached;
- ``dns_forward_max`` forward entries: a loss system, no queue. A query that misses the cache
  needs a free entry, else it is answered REFUSED at once ("Maximum number of concurrent DNS
  queries reached", logged about once per 6 s however many are refused). A query for a name
  already being forwarded joins that forward (no new upstream query) but still takes an entry;
  entries are held until the upstream answers, or 10 s when it does not;
- one thread under the container's CPU limit: beyond what it serves, queries wait in the
  socket buffer and past it the kernel drops them (``DatagramServer``).
Model card: docs/models/dns.md.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from functools import partial

import numpy as np

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Timer

#: kubedns answer TTL (kube-dns 1.5 default for service records).
ANSWER_TTL_SECONDS = 30.0
#: dnsmasq gives up on a forward after 10 s (its forwarded-query timeout).
FORWARD_TIMEOUT_SECONDS = 10.0
#: dnsmasq rate-limits its "Maximum number of concurrent DNS queries reached" line.
MAX_QUERIES_LOG_EVERY_SECONDS = 6.0


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
            times = (now + np.sort(rng.uniform(0.0, window, int(counts[name])))).tolist()
            self.engine.at(times[0], self._arrival, name, times, 0, on_failure)

    def _arrival(self, name: int, times: list[float], index: int, on_failure: Callable[[int], None]) -> None:
        """The ``index``-th query this tick for a name that missed the cache when the tick
        began. While the name is not cached every query is an event of its own (it forwards,
        joins the forward in flight or is refused: the forward table is where the symptom
        lives); once one finds the answer cached, the tick's later queries for the name are
        hits too, counted together: an answer lives 30 s and a tick is at most 1 s. (Only a
        restart or an LRU eviction later in the same tick would have turned one of them into a
        miss.) This keeps a tick's events per name bounded by the queries made before its
        answer, not by every pod's lookups; the queries sent to a restarting dnsmasq fail
        together."""
        if self.engine.now < self.down_until:
            # restarting: every query until the port opens again fails the same way, at once
            end = bisect.bisect_left(times, self.down_until, lo=index)
            self.recorder.inc("dns_queries_to_restarting_dnsmasq_total", end - index)
            on_failure(end - index)
            if end < len(times):
                self.engine.at(times[end], self._arrival, name, times, end, on_failure)
            return
        hits_before = self.hits
        self.query(name, 0, on_failure)
        later = len(times) - index - 1
        if later == 0:
            return
        if self.hits > hits_before:  # this one was answered from the cache: so are the rest
            self.hits += later
            self.last_used[name] = times[-1]
            return
        self.engine.at(times[index + 1], self._arrival, name, times, index + 1, on_failure)

    def query(self, name: int, attempt: int, on_failure: Callable[[int], None]) -> None:
        """One workload query that missed the cache (or found it expired meanwhile)."""
        if self.engine.now < self.down_until:  # restarting: the port is closed, the resolver gives up
            self.recorder.inc("dns_queries_to_restarting_dnsmasq_total")
            on_failure(1)
            return
        # The client's retry of a refused query is the same query: one hit or miss per query.
        if self._cached(name, count=attempt == 0):
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

    def _cached(self, name: int, count: bool = True) -> bool:
        """Whether ``name`` is answered from the cache; ``count`` adds it to the hit or miss
        count (a retry of a query already counted does not)."""
        if self.cached[name] and self.expiry[name] > self.engine.now:
            if count:
                self.hits += 1
            self.last_used[name] = self.engine.now
            return True
        if count:
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
