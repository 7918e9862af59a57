"""The database path of a service: oslo.db's SQLAlchemy QueuePool per process, and the
Percona XtraDB (Galera) cluster behind the ``galera`` Service.

QueuePool, as SQLAlchemy 1.0/1.1 implements it: at most ``max_pool_size`` idle connections are
kept; up to ``max_overflow`` more are opened when every pooled one is out, and closed when
returned to a full pool. With ``max_pool_size + max_overflow`` connections out, a checkout waits
up to ``pool_timeout`` (30 s) and raises TimeoutError ("QueuePool limit of size 5 overflow 50
reached"). Opening a connection resolves ``galera.ccp`` through the cluster DNS (pymysql calls
getaddrinfo for every new socket): a failed lookup is oslo.db's DBConnectionError, the report's
"Can't connect to MySQL server on 'galera.ccp.svc.cluster.local' ([Errno -2] Name or service not
known)".

Galera: every connection lands on one of the nodes (the Service spreads connections, so
writes go to all of them). A query costs CPU on its node; a transaction that writes commits by
replicating its write set and certifying it: when another node committed a write to one of the
same rows after this transaction began, certification fails and the client gets a wsrep
deadlock error (1213). Same-node row locks (InnoDB waits) are not modelled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from scalelab.components.openstack.errors import DbConnectionError, DbDeadlock, PoolTimeout, fire
from scalelab.components.openstack.gauges import cpu_cores_gauge
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine, Event
from scalelab.spec.openstack import DbPool, Galera

#: Resolves the DB host's name; returns True when it resolved (a generator, as a process step).
Resolve = Callable[[], Generator[Event, Any, bool]]

#: A new MySQL connection: TCP + MySQL handshake + auth over the pod network (~2 ms, assumption).
CONNECT_SECONDS = 0.002


class ConnectionPool:
    """One process's oslo.db engine pool.

    SQLAlchemy's pool queue is a condition variable, not a hand-off: a returned connection is
    put back and one waiter is notified, but any greenthread that checks out before the woken
    one runs takes it (barging), and the woken one that finds the queue empty waits again, at
    the back, for the rest of its 30 s. Under eventlet the woken greenthread runs only after
    every greenthread already runnable in the process has had its turn on the one thread
    (``wake_delay``): in a busy process that is long, and the requests that reach the pool
    meanwhile keep taking the connections. That is how a waiter starves past ``pool_timeout``
    with fewer waiters than connections turning over (Bayer and Podoliaka's analysis of
    nova's and neutron's pools, openstack-dev, Dec 2015 - Feb 2016).
    """

    __slots__ = ("_waiters", "checked_out", "engine", "idle", "reconnect_due", "recorder", "resolve", "service",
                 "spec", "wake_delay")

    def __init__(self, engine: Engine, spec: DbPool, service: str, resolve: Resolve | None,
                 recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.service = service
        self.resolve = resolve
        self.recorder = recorder
        self.idle = 0
        self.checked_out = 0
        self._waiters: deque[Event] = deque()
        #: connections to reopen at their next checkout (the pool was invalidated)
        self.reconnect_due = 0
        #: how long a notified waiter takes to run (its process's runnable backlog); the
        #: service process sets it, a lone pool wakes its waiter at once
        self.wake_delay: Callable[[], float] = lambda: 0.0

    @property
    def limit(self) -> int:
        return self.spec.max_pool_size + self.spec.max_overflow

    def checkout(self) -> Generator[Event, Any, None]:
        """Hold a connection (raises PoolTimeout or DbConnectionError)."""
        if self.idle > 0:  # whoever gets here first takes it, waiters or not
            self.idle -= 1
            self.checked_out += 1
            yield from self._recycle()
            return
        if self.checked_out < self.limit:
            self.checked_out += 1
            yield from self._connect()
            return
        deadline = self.engine.now + self.spec.pool_timeout
        while True:
            woken = self.engine.event()
            self._waiters.append(woken)
            fired = yield self.engine.any_of([woken, self.engine.timeout(deadline - self.engine.now)])
            if woken not in fired:
                if woken in self._waiters:
                    self._waiters.remove(woken)
                else:  # notified but not yet running: the notification passes on
                    woken.succeed()
                self.recorder.inc(f'db_pool_timeouts_total{{service="{self.service}"}}')
                raise PoolTimeout(f"{self.service}: QueuePool limit of size {self.spec.max_pool_size} overflow "
                                  f"{self.spec.max_overflow} reached, connection timed out, timeout "
                                  f"{self.spec.pool_timeout:g}")
            if self.idle > 0:
                self.idle -= 1
                self.checked_out += 1
                yield from self._recycle()
                return
            self.recorder.inc(f'db_pool_wait_barged_total{{service="{self.service}"}}')
            if self.engine.now >= deadline:
                self.recorder.inc(f'db_pool_timeouts_total{{service="{self.service}"}}')
                raise PoolTimeout(f"{self.service}: QueuePool limit reached, connection timed out")

    def invalidate(self) -> None:
        """A disconnect error seen on one connection: SQLAlchemy invalidates the whole pool,
        and every connection it holds is reopened (a new lookup) at its next checkout."""
        self.reconnect_due = self.idle + self.checked_out

    def _recycle(self) -> Generator[Event, Any, None]:
        if self.reconnect_due > 0:
            self.reconnect_due -= 1
            yield from self._connect()

    def _connect(self) -> Generator[Event, Any, None]:
        self.recorder.inc("db_connections_opened_total")
        if self.resolve is not None:
            resolved = yield from self.resolve()
            if not resolved:
                self.checked_out -= 1
                self.recorder.inc(f'db_connection_failures_total{{service="{self.service}"}}')
                raise DbConnectionError("Can't connect to MySQL server on 'galera.ccp.svc.cluster.local' "
                                        "([Errno -2] Name or service not known)")
        yield self.engine.timeout(CONNECT_SECONDS)

    def checkin(self) -> None:
        """Return a connection: into the queue (notifying one waiter) when it has room, else
        closed (an overflow connection)."""
        if self.idle < self.spec.max_pool_size:
            self.idle += 1
            self.checked_out -= 1
            if self._waiters:
                self.engine.schedule(self.wake_delay(), self._wake, self._waiters.popleft())
            return
        self.checked_out -= 1

    def _wake(self, waiter: Event) -> None:
        if not waiter.triggered:
            waiter.succeed()
        elif self._waiters and self.idle > 0:  # it had given up: the next waiter is told
            self.engine.schedule(self.wake_delay(), self._wake, self._waiters.popleft())


class GaleraCluster:
    """The Percona XtraDB nodes, their CPU, and write-set certification."""

    def __init__(self, engine: Engine, spec: Galera, recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.recorder = recorder
        self.nodes = [Cores(engine, spec.threads, f"galera-{i}") for i in range(spec.nodes)]
        self._next = 0
        #: in the galera Service's endpoints (new connections reach it)
        self.up = [True] * spec.nodes
        #: the node's mysqld is gone until restarted
        self.dead = [False] * spec.nodes
        self.epoch = [0] * spec.nodes
        #: row key -> (commit time, node) of its last committed write
        self._last_write: dict[str, tuple[float, int]] = {}
        cpu_cores_gauge(recorder, "galera", lambda: sum(n.busy_seconds() for n in self.nodes))

    def node_for_connection(self) -> int:
        """The node a connection lands on: the next of the Service's endpoints."""
        for _ in range(len(self.nodes)):
            node = self._next
            self._next = (self._next + 1) % len(self.nodes)
            if self.up[node]:
                return node
        return self._next

    def kill(self, node: int) -> None:
        self.dead[node] = True
        self.epoch[node] += 1

    def transaction_lost(self, node: int, epoch: int) -> bool:
        return self.epoch[node] != epoch

    def queries(self, node: int, count: int) -> Event:
        done = self.engine.event()
        self.nodes[node].submit(count * self.spec.query_cpu_seconds, fire, done, owner="mysqld")
        self.recorder.inc("db_queries_total", count)
        return done

    def transaction(self, node: int, queries: int, writes: tuple[str, ...]) -> Generator[Event, Any, None]:
        """Run a transaction's queries on ``node`` and commit its writes (raises DbDeadlock
        when certification fails)."""
        began = self.engine.now
        if self.dead[node]:
            raise DbConnectionError(f"Can't connect to MySQL server on 'galera.ccp.svc.cluster.local' (node {node}: "
                                    "connection refused)")
        epoch = self.epoch[node]
        yield self.queries(node, queries)
        if self.epoch[node] != epoch:
            raise DbConnectionError("Lost connection to MySQL server during query")
        if not writes:
            return
        for key in writes:
            last = self._last_write.get(key)
            if last is not None and last[0] > began and last[1] != node:
                self.recorder.inc("db_deadlock_errors_total")
                raise DbDeadlock("wsrep: Deadlock found when trying to get lock; try restarting transaction")
        now = self.engine.now  # certified: the write set is ordered cluster-wide from here
        for key in writes:
            self._last_write[key] = (now, node)
        yield self.engine.timeout(self.spec.commit_seconds)
