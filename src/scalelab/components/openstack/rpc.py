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


class Broker:
    def __init__(self, engine: Engine, spec: RabbitMq, recorder: Recorder) -> None:
        self.engine = engine
        self.spec = spec
        self.recorder = recorder
        self.cores = Cores(engine, spec.threads, "rabbitmq")
        cpu_cores_gauge(recorder, "rabbitmq", self.cores.busy_seconds)

    def route(self) -> Event:
        """One message through the broker."""
        done = self.engine.event()
        copies = 2 if self.spec.mirrored_queues else 1
        self.recorder.inc("rabbitmq_messages_total")
        self.cores.submit(copies * self.spec.message_cpu_seconds, fire, done, owner="beam")
        return done


def call(engine: Engine, broker: Broker, serve: Callable[[Handler], Event], handler: Handler,
         timeout: float, recorder: Recorder, topic: str) -> Generator[Event, Any, Any]:
    """An RPC call: request and reply through the broker, the handler on a server worker;
    raises RpcTimeout when the reply is later than ``timeout``."""
    yield broker.route()
    reply = serve(handler)
    fired = yield engine.any_of([reply, engine.timeout(timeout)])
    if reply not in fired:
        recorder.inc(f'rpc_timeouts_total{{topic="{topic}"}}')
        raise RpcTimeout(f"Timed out waiting for a reply to {topic}")
    yield broker.route()
    value = fired[reply]
    if isinstance(value, ServiceError):
        raise value  # the server's exception, re-raised in the caller as oslo.messaging does
    return value


def cast(broker: Broker, serve: Callable[[Handler], Event], handler: Handler) -> Generator[Event, Any, None]:
    """An RPC cast: through the broker, no reply awaited."""
    yield broker.route()
    serve(handler)
