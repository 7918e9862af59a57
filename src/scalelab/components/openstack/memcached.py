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
dead_retry has passed. Not modelled: memcached's own CPU, slow answers and client reconnects
when it thrashes (the report's "retransmissions").
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict

from scalelab.metrics.recorder import Recorder
from scalelab.spec.openstack import Memcached as MemcachedSpec

#: memcached 1.4: the smallest chunk (``sizeof(item)`` 48 + ``-n`` 48), the chunk alignment and
#: the largest item (``-I`` 1 MiB, also the slab page)
SMALLEST_CHUNK = 96
CHUNK_ALIGN = 8
ITEM_SIZE_MAX = 2**20


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
    def __init__(self, spec: MemcachedSpec, recorder: Recorder) -> None:
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
