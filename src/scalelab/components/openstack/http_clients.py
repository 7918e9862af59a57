"""Clients' HTTP connections to the eventlet API services, kept alive between requests.

eventlet.wsgi serves each accepted TCP connection in one greenthread, request after request,
until the client closes it or it idles ``client_socket_timeout`` (oslo.service wsgi and the
services' own wsgi modules of Newton: 900 s, keep-alive on). That greenthread is also what owns
the memcached socket keystonemiddleware's plain pool opened for it (``cache_clients.py``), so a
connection a client keeps open keeps a memcached connection open, idle or not.

Who keeps connections: a keystoneauth session over requests' connection pool (at most
``pool_maxsize`` 10 idle per host, requests' ``DEFAULT_POOLSIZE``; a connection beyond that is
closed after its request, urllib3's "pool is full, discarding connection"). A ``client`` names
one such session: a Rally user's clients (keyed by the user's token), a stack's clients in
heat-engine (its context's session, dropped when the stack's operation ends), a nova-compute's
neutron and glance clients (nova keeps one session per process for neutron: ``_SESSION`` in
``nova/network/neutronv2/api.py``). Requests without a client (the guests' curl and
os-collect-config calls) open and close their own connection.

Not modelled: the process that serves a kept connection (each request is admitted to a worker
as before; the connection remembers the pod that served it last, and a connection whose pod was
restarted since is closed), the greenthread a kept connection holds in eventlet's pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalelab.components.openstack.cache_clients import DEAD
from scalelab.sim import Engine

if TYPE_CHECKING:
    from scalelab.components.openstack.api import Api

#: requests' HTTPAdapter pool size (DEFAULT_POOLSIZE): idle connections kept per host
POOL_MAXSIZE = 10
#: oslo.service wsgi ``client_socket_timeout`` (Newton default; glance and heat have the same):
#: the server closes a connection idle this long
IDLE_TIMEOUT_SECONDS = 900.0


class Connection:
    """One client TCP connection and the greenthread serving it: its memcached socket (as a
    request's ``mc``), where it was served last, when it went idle."""

    __slots__ = ("dead_since", "epoch", "idle_since", "mc", "pod")

    def __init__(self) -> None:
        self.mc: int | None = None
        self.pod = -1
        self.epoch = -1
        self.idle_since = -1.0
        #: when its memcached client gave up on the server (python-memcached retries after
        #: dead_retry); -1 while it has not
        self.dead_since = -1.0


class HttpClients:
    """Every kept-alive client connection, per (client, service)."""

    def __init__(self, engine: Engine, dead_retry: float, pool_maxsize: int = POOL_MAXSIZE,
                 idle_timeout: float = IDLE_TIMEOUT_SECONDS) -> None:
        self.engine = engine
        self.dead_retry = dead_retry
        self.pool_maxsize = pool_maxsize
        self.idle_timeout = idle_timeout
        self._idle: dict[tuple[str, str], list[Connection]] = {}
        self._apis: dict[tuple[str, str], Api] = {}
        self._keys: dict[str, set[tuple[str, str]]] = {}
        self.open = 0
        self.peak = 0

    def checkout(self, client: str, api: Api) -> Connection:
        """The connection a request of ``client`` to ``api`` goes out on: the most recently used
        idle one (urllib3's pool is a LIFO queue) or a new one."""
        key = (client, api.name)
        idle = self._idle.get(key)
        now = self.engine.now
        while idle:
            conn = idle.pop()
            if api.processes.epoch[conn.pod] != conn.epoch:  # its process was restarted
                self._close(api, conn)
                continue
            conn.idle_since = -1.0
            if conn.mc == DEAD and now - conn.dead_since >= self.dead_retry:
                conn.mc, conn.dead_since = None, -1.0
            return conn
        if key not in self._apis:
            self._apis[key] = api
            self._keys.setdefault(client, set()).add(key)
            self._idle[key] = []
        self.open += 1
        self.peak = max(self.peak, self.open)
        return Connection()

    def checkin(self, client: str, api: Api, conn: Connection, pod: int, dead: bool) -> None:
        """The request is over: the connection goes back to its client's pool, or is closed
        when the pool holds ``pool_maxsize`` already or its process died under it."""
        idle = self._idle.get((client, api.name))
        if idle is None or dead or len(idle) >= self.pool_maxsize:  # None: the session is gone
            self._close(api, conn)
            return
        if conn.mc == DEAD and conn.dead_since < 0.0:
            conn.dead_since = self.engine.now
        conn.pod, conn.epoch = pod, api.processes.epoch[pod]
        stamp = conn.idle_since = self.engine.now
        idle.append(conn)
        self.engine.schedule(self.idle_timeout, self._expire, client, api, conn, stamp)

    def close_client(self, client: str) -> None:
        """The client's session is dropped (a stack's operation ended): its connections close."""
        for key in self._keys.pop(client, ()):
            api = self._apis.pop(key)
            for conn in self._idle.pop(key):
                self._close(api, conn)

    def drop(self, api: Api, pod: int) -> None:
        """A pod of ``api`` died: the connections it served idle are reset with it."""
        for key, idle in self._idle.items():
            if key[1] != api.name:
                continue
            kept = [conn for conn in idle if conn.pod != pod]
            for conn in idle:
                if conn.pod == pod:
                    self._close(api, conn)
            idle[:] = kept

    def _expire(self, client: str, api: Api, conn: Connection, stamp: float) -> None:
        idle = self._idle.get((client, api.name))
        if idle is not None and conn.idle_since == stamp and conn in idle:
            idle.remove(conn)
            self._close(api, conn)

    def _close(self, api: Api, conn: Connection) -> None:
        api.cache.close(conn)
        conn.mc = None
        self.open -= 1
