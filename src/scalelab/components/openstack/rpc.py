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


class Broker:
    def __init__(self, engine: Engine, spec: RabbitMq, recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.recorder = recorder
        self.cores = Cores(engine, spec.threads, "rabbitmq")
        cpu_cores_gauge(recorder, "rabbitmq", self.cores.busy_seconds)
        #: messages whose sender waits for a connection (the broker is down)
        self._held: list[Event] | None = None
        self._down_at = 0.0

    def route(self) -> Event:
        """One message through the broker (while it is down, the sender's driver retries the
        connection and publishes once it is back)."""
        done = self.engine.event()
        if self._held is not None:
            self._held.append(done)
            return done
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

    def back(self) -> float:
        """The broker serves again; the clients reconnect on their retry schedule. Returns the
        reconnect delay after now."""
        delay = reconnect_delay(self.engine.now - self._down_at) - (self.engine.now - self._down_at)
        self.engine.schedule(delay, self._reconnected)
        return delay

    def _reconnected(self) -> None:
        held, self._held = self._held or [], None
        for done in held:
            self._route(done)


def call(engine: Engine, broker: Broker, serve: Callable[[Handler], Event], handler: Handler,
         timeout: float, recorder: Recorder, topic: str) -> Generator[Event, Any, Any]:
    """An RPC call: request and reply through the broker, the handler on a server worker;
    raises RpcTimeout when the reply is later than ``timeout``."""
    reply = engine.process(_round_trip(broker, serve, handler))
    fired = yield engine.any_of([reply, engine.timeout(timeout)])
    if reply not in fired:
        recorder.inc(f'rpc_timeouts_total{{topic="{topic}"}}')
        raise RpcTimeout(f"Timed out waiting for a reply to {topic}")
    value = fired[reply]
    if isinstance(value, ServiceError):
        raise value  # the server's exception, re-raised in the caller as oslo.messaging does
    return value


def _round_trip(broker: Broker, serve: Callable[[Handler], Event], handler: Handler) -> Generator[Event, Any, Any]:
    """The request through the broker, the server's work, the reply back: what the caller's
    timeout covers."""
    yield broker.route()
    value = yield serve(handler)
    yield broker.route()
    return value


def cast(broker: Broker, serve: Callable[[Handler], Event], handler: Handler) -> Generator[Event, Any, None]:
    """An RPC cast: through the broker, no reply awaited."""
    yield broker.route()
    serve(handler)
