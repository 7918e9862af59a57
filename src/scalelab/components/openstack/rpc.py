"""oslo.messaging over RabbitMQ: casts and calls to a service's RPC servers.

A message costs the broker CPU (twice with mirrored queues: the mirror gets a copy); an RPC
server is a pool of worker processes (``ServiceProcesses``) that take requests in arrival order
from their topic queue. A ``call`` waits for the reply up to ``rpc_response_timeout`` and
raises MessagingTimeout; the server still runs the request to its end (its work is not
cancelled: the caller merely stopped waiting), as oslo.messaging does.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from scalelab.components.openstack.errors import RpcTimeout, ServiceError, fire
from scalelab.components.openstack.gauges import cpu_cores_gauge
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine, Event
from scalelab.spec.openstack import RabbitMq

#: A server-side handler: a request path (a generator over the ``Request`` of the RPC server's
#: worker that took the message), returning the reply.
Handler = Callable[[Any], Generator[Event, Any, Any]]


#: oslo.messaging's rabbit driver reconnects after rabbit_retry_interval 1 s, then 2 s more each
#: time (rabbit_retry_backoff), at most rabbit_interval_max 30 s apart (Newton defaults).
RECONNECT_FIRST, RECONNECT_BACKOFF, RECONNECT_MAX = 1.0, 2.0, 30.0


def reconnect_delay(down_for: float) -> float:
    """When a client that lost the broker at time 0 is connected again, the broker having
    been back since ``down_for``: its first retry at or after that."""
    at, step = 0.0, RECONNECT_FIRST
    while at < down_for:
        at += step
        step = min(step + RECONNECT_BACKOFF, RECONNECT_MAX)
    return at


class Connection:
    """One client process's AMQP connection: while it is down, what the process sends waits."""

    __slots__ = ("held", "name", "up")

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True
        self.held: list[Event] = []


class Broker:
    def __init__(self, engine: Engine, spec: RabbitMq, recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.recorder = recorder
        self.cores = Cores(engine, spec.threads, "rabbitmq")
        cpu_cores_gauge(recorder, "rabbitmq", self.cores.busy_seconds)
        #: messages of senders without a connection of their own, while the broker is down
        self._held: list[Event] | None = None
        self._down_at = 0.0
        self._connections: list[Connection] = []
        #: resolves the broker's name for a reconnecting client (True: resolved); None: no lookup
        self.resolve: Callable[[], Generator[Event, Any, bool]] | None = None

    def connection(self, name: str) -> Connection:
        conn = Connection(name)
        self._connections.append(conn)
        return conn

    def route(self, conn: Connection | None = None) -> Event:
        """One message through the broker, sent on ``conn`` (while the broker or that
        connection is down, the sender's driver retries the connection and publishes once
        it is back)."""
        done = self.engine.event()
        if conn is not None and not conn.up:
            conn.held.append(done)
        elif conn is None and self._held is not None:
            self._held.append(done)
        else:
            self._route(done)
        return done

    def _route(self, done: Event) -> None:
        copies = 2 if self.spec.mirrored_queues else 1
        self.recorder.inc("rabbitmq_messages_total")
        self.cores.submit(copies * self.spec.message_cpu_seconds, fire, done, owner="beam")

    def kill(self) -> None:
        """The broker is gone: messages in its queues with it (their callers time out), and
        every sender waits for a connection."""
        if self._held is None:
            self._held = []
            self._down_at = self.engine.now
            for conn in self._connections:
                conn.up = False

    def back(self) -> float:
        """The broker serves again; the clients reconnect on their retry schedule, each
        resolving the broker's name first (a failed lookup is a failed reconnect: the next
        attempt follows the schedule). Returns the first reconnect's delay after now."""
        down_for = self.engine.now - self._down_at
        delay = reconnect_delay(down_for) - down_for
        self.engine.schedule(delay, self._reconnected)
        for conn in self._connections:
            self.engine.process(self._reconnect(conn, down_for))
        return delay

    def _reconnect(self, conn: Connection, down_for: float) -> Generator[Event, Any, None]:
        at, step = 0.0, RECONNECT_FIRST
        while True:
            while at < down_for:
                at += step
                step = min(step + RECONNECT_BACKOFF, RECONNECT_MAX)
            yield self.engine.timeout(at - (self.engine.now - self._down_at))
            if self.resolve is None or (yield from self.resolve()):
                conn.up = True
                held, conn.held = conn.held, []
                for done in held:
                    self._route(done)
                return
            self.recorder.inc("rpc_connection_failures_total")
            down_for = self.engine.now - self._down_at + 1e-9  # the next attempt of the schedule

    def _reconnected(self) -> None:
        held, self._held = self._held or [], None
        for done in held:
            self._route(done)


def call(engine: Engine, broker: Broker, serve: Callable[[Handler], Event], handler: Handler,
         timeout: float, recorder: Recorder, topic: str, conn: Connection | None = None) -> Generator[Event, Any, Any]:
    """An RPC call on the caller's connection: request and reply through the broker, the
    handler on a server worker; raises RpcTimeout when the reply is later than ``timeout``."""
    reply = engine.process(_round_trip(broker, serve, handler, conn))
    fired = yield engine.any_of([reply, engine.timeout(timeout)])
    if reply not in fired:
        recorder.inc(f'rpc_timeouts_total{{topic="{topic}"}}')
        raise RpcTimeout(f"Timed out waiting for a reply to {topic}")
    value = fired[reply]
    if isinstance(value, ServiceError):
        raise value  # the server's exception, re-raised in the caller as oslo.messaging does
    return value


def _round_trip(broker: Broker, serve: Callable[[Handler], Event], handler: Handler,
                conn: Connection | None) -> Generator[Event, Any, Any]:
    """The request through the broker, the server's work, the reply back: what the caller's
    timeout covers (the reply waits for the caller's connection, the server's is not held)."""
    yield broker.route(conn)
    value = yield serve(handler)
    yield broker.route(conn)
    return value


def cast(broker: Broker, serve: Callable[[Handler], Event], handler: Handler,
         conn: Connection | None = None) -> Generator[Event, Any, None]:
    """An RPC cast: through the broker, no reply awaited."""
    yield broker.route(conn)
    serve(handler)
