"""One request through an OpenStack service: its worker, its CPU, its database transactions,
its token check, its calls to other services.

``Backends`` are what every service shares (Galera, memcached, RabbitMQ, the DNS resolver);
``Api`` is one service's processes; a request path is a generator over a ``Request``, written
in the service's module (keystone, nova, ...). Request paths raise ``ServiceError``s; the
caller (a client, another service, Rally) sees them as the failed call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from scalelab.components.openstack.cache_clients import DEAD, CacheClients
from scalelab.components.openstack.db import ConnectionPool, GaleraCluster
from scalelab.components.openstack.errors import DbConnectionError, DbDeadlock, ServiceError, Unavailable
from scalelab.components.openstack.http_clients import HttpClients
from scalelab.components.openstack.memcached import Memcached
from scalelab.components.openstack.process import ServiceProcesses, Worker
from scalelab.components.openstack.rpc import Broker, Connection, Handler, call, cast
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.openstack import OpenStack

Path = Callable[["Request"], Generator[Event, Any, Any]]

#: A request slower than this is counted as slow (the report's "more than a minute").
SLOW_REQUEST_SECONDS = 60.0


@dataclass
class Backends:
    engine: Engine
    spec: OpenStack
    galera: GaleraCluster
    memcached: Memcached
    broker: Broker
    recorder: Recorder
    #: clients' kept-alive HTTP connections (None: every request opens and closes its own)
    http: HttpClients | None = None


class Api:
    """One service's worker processes, serving HTTP requests or RPC messages."""

    def __init__(self, name: str, processes: ServiceProcesses, backends: Backends, request_cpu_seconds: float,
                 rpc_timeout: float, service: str = "", cache: CacheClients | None = None) -> None:
        self.name = name
        #: its processes' memcached clients (keystonemiddleware's, or keystone's own cache)
        mc = backends.spec.memcached
        self.cache = cache or CacheClients(backends.memcached, mc.socket_timeout,
                                           mc.advanced_pool_maxsize if mc.advanced_pool else 0)
        #: the OpenStack service it belongs to (its user, its config): nova, neutron, ...
        self.service = service
        self.processes = processes
        self.backends = backends
        self.request_cpu_seconds = request_cpu_seconds
        self.rpc_timeout = rpc_timeout
        self._latency = f'openstack_request_seconds{{service="{name}"}}'

    def request(self, path: Path, client: str | None = None) -> Generator[Event, Any, Any]:
        """Serve one request on a worker (raises what the path raises; Unavailable when no
        pod is in the endpoints, when the pod it reached is down, or when its process died
        under the request). ``client``: the session it goes out on, whose connection (and the
        greenthread serving it, with its memcached socket) outlives the request."""
        procs = self.processes
        started = self.backends.engine.now
        worker = yield from procs.admit()
        if worker is None:
            raise Unavailable(f"{self.name}: no endpoint")
        pod = worker.pod
        epoch = procs.epoch[pod]
        req = Request(self, worker)
        http = self.backends.http
        conn = http.checkout(client, self) if http is not None and client is not None else None
        if conn is not None:
            req.mc = conn.mc
        try:
            if procs.dead[pod]:
                raise Unavailable(f"{self.name}: connection refused (pod {pod} is down)")
            yield procs.cpu(worker, self.request_cpu_seconds)
            result = yield from path(req)
            if procs.epoch[pod] != epoch:  # the process died under the request
                raise Unavailable(f"{self.name}: connection reset (pod {pod} was killed)")
            return result
        finally:
            if conn is not None and http is not None and client is not None:
                conn.mc = req.mc
                http.checkin(client, self, conn, pod, procs.epoch[pod] != epoch or procs.dead[pod])
            else:
                self.cache.close(req)
            procs.leave(worker)
            took = self.backends.engine.now - started
            self.backends.recorder.observe(self._latency, took)
            if took > SLOW_REQUEST_SECONDS:
                self.backends.recorder.inc(f'openstack_slow_requests_total{{service="{self.name}"}}')

    def serve(self, handler: Handler) -> Event:
        """An RPC server's side of a message: the handler on a worker; the returned process
        fires with the reply, or with the ServiceError it raised (casts have no one waiting)."""
        return self.backends.engine.process(self._serve(handler))

    def handle(self, handler: Handler, routed: bool = True,
               conn: Connection | None = None) -> Generator[Event, Any, Any]:
        """A message this RPC server handles for a step outside any request (a compute's
        build, the engine's own follow-up), awaited: through the broker on the sender's
        connection unless the server sends it to itself; raises the handler's error."""
        if routed:
            yield self.backends.broker.route(conn)
        result = yield self.serve(handler)
        if isinstance(result, ServiceError):
            raise result
        return result

    def notify(self, handler: Handler, conn: Connection | None = None) -> None:
        """A periodic message nobody waits for (heartbeats, agents' state reports): its
        failure is counted by ``serve`` and goes no further."""
        self.backends.engine.process(self._notify(handler, conn))

    def _notify(self, handler: Handler, conn: Connection | None) -> Generator[Event, Any, None]:
        yield self.backends.broker.route(conn)
        yield self.serve(handler)

    def _serve(self, handler: Handler) -> Generator[Event, Any, Any]:
        try:
            return (yield from self.request(handler))
        except ServiceError as error:
            self.backends.recorder.inc(f'openstack_errors_total{{kind="{error.kind}",service="{self.name}"}}')
            return error


class Request:
    """What a request path can do on the worker serving it."""

    __slots__ = ("api", "mc", "worker")

    def __init__(self, api: Api, worker: Worker) -> None:
        self.api = api
        self.worker = worker
        #: its greenthread's memcached connection: its epoch, None before the first cache
        #: operation, DEAD once the client gave up on the server
        self.mc: int | None = None

    @property
    def backends(self) -> Backends:
        return self.api.backends

    def cpu(self, seconds: float) -> Event:
        return self.api.processes.cpu(self.worker, seconds)

    def db(self, queries: int, writes: tuple[str, ...] = (), retry: bool = False,
           rows_cpu: float = 0.0) -> Generator[Event, Any, None]:
        """One transaction through the process's pool. ``rows_cpu``: the process's work on the
        rows the queries return (PyMySQL parses them and the ORM builds them while the
        connection is still checked out). A certification failure is retried (oslo.db
        wrap_db_retry: doubling waits, capped) when the path is decorated *and* oslo.db maps
        the wsrep error to DBDeadlock; otherwise it is the request's error."""
        pool = self.worker.pool
        assert pool is not None, f"{self.api.name} has no database"
        galera = self.backends.galera
        spec = galera.spec
        attempt = 0
        while True:
            yield from pool.checkout()
            try:
                yield self.cpu(queries * self.backends.spec.orm_query_cpu_seconds + rows_cpu)
                yield from galera.transaction(galera.node_for_connection(), queries, writes)
                return
            except DbDeadlock:
                if not (retry and spec.wsrep_deadlock_mapped) or attempt >= spec.retries:
                    self.backends.recorder.inc("db_deadlock_failures_total")  # the caller gets it
                    raise
            except DbConnectionError:
                self.backends.recorder.inc("db_disconnects_total")
                pool.invalidate()  # the connection is gone: SQLAlchemy invalidates the pool
                raise
            finally:
                pool.checkin()
            self.backends.recorder.inc("db_deadlock_retries_total")
            yield self.backends.engine.timeout(min(spec.retry_interval * 2**attempt, spec.max_retry_interval))
            attempt += 1

    def _own_connection(self) -> int | None:
        """The greenthread's own memcached connection when it is open (no client call needed:
        the common case, kept off the generator path), else None."""
        conn = self.mc
        if self.api.cache.maxsize or conn is None or conn != self.backends.memcached.epoch:
            return None
        return conn

    def cache_get(self, key: str) -> Generator[Event, Any, bool]:
        """A lookup: False on a miss, and when the client could not reach memcached."""
        backends, clients = self.backends, self.api.cache
        conn = self._own_connection()
        if conn is None:
            conn = yield from clients.begin(self, self.worker)
        if conn == DEAD:
            return False
        yield backends.engine.timeout(backends.spec.memcached.op_seconds)
        clients.end(conn, self.worker)
        return backends.memcached.get(key, backends.engine.now)

    def cache_set(self, key: str, size: int, ttl: float = math.inf) -> Generator[Event, Any, None]:
        backends, clients = self.backends, self.api.cache
        conn = self._own_connection()
        if conn is None:
            conn = yield from clients.begin(self, self.worker)
        if conn == DEAD:
            return
        yield backends.engine.timeout(backends.spec.memcached.op_seconds)
        clients.end(conn, self.worker)
        backends.memcached.set(key, size, backends.engine.now, ttl)

    def call(self, server: Api, handler: Handler, topic: str) -> Generator[Event, Any, Any]:
        """An RPC call to another service's RPC server, with this service's timeout."""
        b = self.backends
        return (yield from call(b.engine, b.broker, server.serve, handler, self.api.rpc_timeout, b.recorder, topic,
                                self.worker.connection))

    def cast(self, server: Api, handler: Handler) -> Generator[Event, Any, None]:
        yield from cast(self.backends.broker, server.serve, handler, self.worker.connection)


def pools(backends: Backends, service: str, count: int,
          resolve: Callable[[], Generator[Event, Any, bool]] | None) -> list[ConnectionPool]:
    """One oslo.db pool per worker process of a service, with the service's settings."""
    spec = backends.spec.pool(service)
    return [ConnectionPool(backends.engine, spec, service, resolve, backends.recorder) for _ in range(count)]
