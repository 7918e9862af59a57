"""memcached as the services use it: the token caches of keystonemiddleware and keystone.

The cache is a byte-bounded LRU over the keys the services set (memcached 1.4's per-slab LRU,
with every token entry in one slab class, behaves as one LRU of that size). An item costs the
chunk of its slab class, not its bytes (``chunk_bytes``: memcached 1.4's ``slabs_init``), so a
256 MiB memcached holds about 30,000 8 KiB token entries. Hits, misses and evictions come out of
the keys the run's requests actually touch: when the entries written outgrow ``memory``, the
least recently used go first and a miss sends the validation back to keystone, which rebuilds
it from the database.

Expiry: keystonemiddleware sets its entries with ``token_cache_time`` (memcached drops them
when read after it). Keystone's own token cache is an oslo.cache region whose expiry is
dogpile's, kept in the value: oslo.cache set no memcached expiry before 3.9.0 (2024, commit
"Support expiration time in backend": expired records "are not removed from backends
automatically"), so every token keystone issues or validates stays in memcached until the LRU
evicts it. A killed memcached loses every entry; its clients miss until it is back and their
dead_retry has passed.

Connections: memcached 1.4 takes at most ``max_connections`` descriptors (``-c`` is its
RLIMIT_NOFILE), ``threads`` x 5 of them its own; at the limit ``accept`` fails with EMFILE and it
stops listening (``accept_new_conns(false)``: listen backlog 0) until a connection closes, so a
client's SYN is dropped and retransmitted on Linux's schedule (1 s, then doubling) until the
client's socket timeout gives up: the lookup is then a miss on the client's side (python-memcached
marks the server dead for that client), and keystonemiddleware validates at keystone. Who holds
connections: keystonemiddleware's plain pool under eventlet, one per request in flight that has
touched the cache (python-memcached's client is a thread-local, a greenthread-local once eventlet
patches threading; it closes when the greenthread ends: here when the request ends, a lower bound
where clients keep their HTTP connections alive); its advanced pool and keystone's oslo.cache
pool, one per request slot at most, kept by the process. Not modelled: memcached's own CPU,
the one connection the kernel queues while memcached is not listening.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Generator
from typing import Any

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.openstack import Memcached as MemcachedSpec

#: memcached 1.4: the smallest chunk (``sizeof(item)`` 48 + ``-n`` 48), the chunk alignment and
#: the largest item (``-I`` 1 MiB, also the slab page)
SMALLEST_CHUNK = 96
CHUNK_ALIGN = 8
ITEM_SIZE_MAX = 2**20
#: memcached 1.4 thread.c: descriptors each worker thread holds (its notify pipe, its event base)
FDS_PER_THREAD = 5
#: descriptors memcached holds besides its threads': stdin/out/err, the TCP and UDP listeners
#: (1.4 listens on UDP 11211 by default) and the main event base
FDS_OWN = 6
#: Linux's initial SYN retransmission timeout (TCP_TIMEOUT_INIT, 1 s since 3.1, RFC 6298); it
#: doubles at every retransmission
SYN_RTO_SECONDS = 1.0


def syn_times(timeout: float) -> list[float]:
    """When a connecting client's SYNs leave, relative to the first, before ``timeout``:
    0, 1, 3, 7, ... s (the retransmission timeout doubles)."""
    times, at, rto = [], 0.0, SYN_RTO_SECONDS
    while at < timeout:
        times.append(at)
        at, rto = at + rto, rto * 2
    return times


@functools.lru_cache(maxsize=64)
def chunk_bytes(item_bytes: int, growth_factor: float = 1.25) -> int:
    """The chunk memcached 1.4 stores an item of ``item_bytes`` in: its slab classes' sizes
    start at 96 bytes and grow by ``growth_factor`` (8-byte aligned) up to 1 MiB / factor;
    the last class is 1 MiB itself."""
    size = float(SMALLEST_CHUNK)
    while size <= ITEM_SIZE_MAX / growth_factor:
        chunk = int(size)
        if chunk % CHUNK_ALIGN:
            chunk += CHUNK_ALIGN - chunk % CHUNK_ALIGN
        if item_bytes <= chunk:
            return chunk
        size = chunk * growth_factor
    return ITEM_SIZE_MAX


class Memcached:
    def __init__(self, spec: MemcachedSpec, recorder: Recorder, engine: Engine | None = None) -> None:
        self.engine = engine
        #: client connections memcached accepts at once: its descriptor limit less its own
        self.max_clients = max(spec.max_connections - FDS_OWN - FDS_PER_THREAD * spec.threads, 0)
        self.connections = 0
        self.peak_connections = 0
        #: bumped when memcached dies: the connections opened before are gone with it
        self.epoch = 0
        self.retransmits = 0
        self.connect_timeouts = 0
        self.capacity = int(spec.memory)
        self.overhead = spec.item_overhead_bytes
        self.growth_factor = spec.slab_growth_factor
        self.recorder = recorder
        #: key -> (size, expiry time)
        self._items: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.used = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        #: clients use the server (it is up and no client holds it dead)
        self.available = True

    def kill(self) -> None:
        """The memcached pod is gone: every entry and connection with it; clients miss until
        ``available``."""
        self._items.clear()
        self.used = 0
        self.available = False
        self.connections = 0
        self.epoch += 1

    def connect(self, timeout: float) -> Generator[Event, Any, int | None]:
        """A client opens a connection: accepted at once while memcached is under its limit;
        else its SYNs are dropped and retransmitted until one finds a free slot or ``timeout``
        passes. Returns the connection's epoch (for ``release``), or None when it timed out
        or memcached is down (the client's lookup is a miss)."""
        engine = self.engine
        assert engine is not None, "memcached connections need the engine"
        waited = 0.0
        for at in syn_times(timeout):
            if at > waited:
                yield engine.timeout(at - waited)
                waited = at
                self.retransmits += 1
            if not self.available:
                return None
            if self.connections < self.max_clients:
                self.connections += 1
                self.peak_connections = max(self.peak_connections, self.connections)
                return self.epoch
        yield engine.timeout(timeout - waited)
        self.connect_timeouts += 1
        return None

    def release(self, epoch: int) -> None:
        """A client closes a connection it opened in ``epoch``."""
        if epoch == self.epoch:
            self.connections -= 1

    def get(self, key: str, now: float = 0.0) -> bool:
        if not self.available:  # a dead server: python-memcached returns a miss
            self.misses += 1
            return False
        item = self._items.get(key)
        if item is not None and item[1] > now:
            self._items.move_to_end(key)
            self.hits += 1
            return True
        if item is not None:  # expired: memcached drops it when it is read
            del self._items[key]
            self.used -= item[0]
        self.misses += 1
        return False

    def set(self, key: str, size: int, now: float = 0.0, ttl: float = math.inf) -> None:
        if not self.available:
            return
        size = chunk_bytes(size + self.overhead, self.growth_factor)
        old = self._items.pop(key, None)
        if old is not None:
            self.used -= old[0]
        self._items[key] = (size, now + ttl)
        self.used += size
        while self.used > self.capacity and self._items:
            _key, (evicted, _expiry) = self._items.popitem(last=False)
            self.used -= evicted
            self.evictions += 1

    def finish(self, recorder: Recorder) -> None:
        recorder.final("memcached_hits_total", float(self.hits))
        recorder.final("memcached_misses_total", float(self.misses))
        recorder.final("memcached_evictions_total", float(self.evictions))
        recorder.final("memcached_connections_peak", float(self.peak_connections))
        recorder.final("memcached_syn_retransmits_total", float(self.retransmits))
        recorder.final("memcached_connect_timeouts_total", float(self.connect_timeouts))
