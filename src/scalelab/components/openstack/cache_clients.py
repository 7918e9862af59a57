"""How a service's processes hold their memcached connections.

keystonemiddleware's plain pool (``memcache_use_advanced_pool`` False, Newton's default) lends
python-memcached clients, which are thread-locals; eventlet patches ``threading.local`` into a
greenthread-local, so every greenthread that touches the cache opens its own socket and keeps
it until the greenthread ends (``per_request``: from the request's first cache operation to its
end). Its advanced pool and oslo.cache's ``memcache_pool`` (keystone's cache in fuel-ccp) keep
up to ``maxsize`` connections per process and lend one per operation (``pooled``): a lender
waits for a connection to come back when all are out.

A connection that cannot be opened (memcached at its limit past the socket timeout, or down)
makes the operation a miss on the client's side; python-memcached then holds the server dead
for the rest of that client's life, so the request's later operations skip the cache too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any, Protocol

from scalelab.components.openstack.errors import fire
from scalelab.components.openstack.memcached import Memcached
from scalelab.sim import Event

#: a request whose client gave up on memcached (python-memcached marked the server dead)
DEAD = -1


class ConnectionHolder(Protocol):
    """What holds a greenthread's memcached connection: a request, or the client connection a
    greenthread serves (its epoch, None before the first cache operation, or DEAD)."""

    mc: int | None


class _ProcessPool:
    """One process's pooled connections: their epochs while idle, how many are open, and the
    operations waiting for one."""

    __slots__ = ("idle", "open", "waiting")

    def __init__(self) -> None:
        self.idle: list[int] = []
        self.open = 0
        self.waiting: deque[Event] = deque()


class CacheClients:
    """The memcached clients of one service's processes (``maxsize`` 0: per request)."""

    def __init__(self, memcached: Memcached, timeout: float, maxsize: int = 0) -> None:
        self.memcached = memcached
        self.timeout = timeout
        self.maxsize = maxsize
        assert memcached.engine is not None, "memcached connections need the engine"
        self._engine = memcached.engine
        self._pools: dict[object, _ProcessPool] = {}

    def begin(self, holder: ConnectionHolder, process: object) -> Generator[Event, Any, int]:
        """A connection for one cache operation of the request ``holder`` (its ``mc`` field)
        served by ``process``: its epoch, or DEAD when the client could not connect."""
        if not self.maxsize:
            if holder.mc is not None and holder.mc not in (DEAD, self.memcached.epoch):
                holder.mc = None  # its socket died with a memcached since restarted: reconnect
            if holder.mc is None:
                epoch = yield from self.memcached.connect(self.timeout)
                holder.mc = DEAD if epoch is None else epoch
            return int(holder.mc)
        if holder.mc == DEAD:
            return DEAD
        pool = self._pools.get(process)
        if pool is None:
            pool = self._pools[process] = _ProcessPool()
        memcached = self.memcached
        while True:
            while pool.idle:
                epoch = pool.idle.pop()
                if epoch == memcached.epoch:
                    return epoch
                pool.open -= 1  # lost with a memcached that died since
            if pool.open < self.maxsize:
                break
            got = self._engine.event()
            pool.waiting.append(got)
            yield got
        pool.open += 1
        opened = yield from memcached.connect(self.timeout)
        if opened is None:
            pool.open -= 1
            self._wake(pool)
            holder.mc = DEAD
            return DEAD
        return opened

    def end(self, epoch: int, process: object) -> None:
        """The operation is over: a pooled connection goes back to its process's pool."""
        if not self.maxsize or epoch == DEAD:
            return
        pool = self._pools[process]
        pool.idle.append(epoch)
        self._wake(pool)

    def close(self, holder: ConnectionHolder) -> None:
        """The request is over: its greenthread's own connection closes with it."""
        if not self.maxsize and holder.mc is not None and holder.mc != DEAD:
            self.memcached.release(holder.mc)

    @staticmethod
    def _wake(pool: _ProcessPool) -> None:
        if pool.waiting:
            fire(pool.waiting.popleft())

