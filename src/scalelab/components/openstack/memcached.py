"""memcached as the services use it: the token caches of keystonemiddleware and keystone.

The cache is a byte-bounded LRU over the keys the services set (memcached 1.4's per-slab LRU,
with every token entry in one slab class, behaves as one LRU of that size). Hits, misses and
evictions come out of the keys the run's requests actually touch: when the working set (tokens
in use x entry size) outgrows ``memory``, entries are evicted before they are read again and
every miss sends the validation back to keystone, which rebuilds it from the database.
A killed memcached loses every entry; its clients miss until it is back and their dead_retry
has passed. Not modelled: memcached's own CPU, slow answers and client reconnects when it
thrashes (the report's "retransmissions"). Entries expire after the TTL their writer gave (keystonemiddleware's
``token_cache_time``); an expired entry read is a miss.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from scalelab.metrics.recorder import Recorder
from scalelab.spec.openstack import Memcached as MemcachedSpec


class Memcached:
    def __init__(self, spec: MemcachedSpec, recorder: Recorder) -> None:
        self.capacity = int(spec.memory)
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
        """The memcached pod is gone: every entry with it; clients miss until ``available``."""
        self._items.clear()
        self.used = 0
        self.available = False

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
