"""Service processes: Python 2.7 workers that run one thread at a time.

An eventlet service (nova-api, neutron-server, glance-api, heat-api, the RPC servers) runs
``workers`` processes per pod; each accepts up to ``greenthreads`` requests at once
(eventlet.wsgi's pool) and all of them share the process's one runnable thread (the GIL):
processor sharing on a one-thread ``Cores``. A request waiting on the database, memcached or
RPC yields that thread to the others, so the time a request holds its DB connection grows with
how many requests share its process: that is how pools run dry. Keystone under Apache mod_wsgi
has ``processes`` x ``threads`` request slots (a queue in front of them) in the same shape.
A new request goes to an idle process of its pod if there is one, else to a process at
random among those with a free greenthread (``_acceptor``; both sets are kept as requests come
and go, not scanned); pods are chosen round robin (the
Service's kube-proxy rules).
Not modelled: contention between the processes of one host (a control-plane node has 48
threads and a few dozen busy processes), the GIL's own switching overhead.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from typing import Any

import numpy as np

from scalelab.components.openstack.db import ConnectionPool
from scalelab.components.openstack.errors import fire
from scalelab.components.openstack.gauges import cpu_cores_gauge
from scalelab.components.openstack.rpc import Connection
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine, Event, Slots


class Worker:
    """One worker process: its thread, its request slots, its DB pool."""

    __slots__ = ("connection", "cores", "index", "inflight", "pod", "pool", "slots", "stalled_until")

    def __init__(self, engine: Engine, name: str, index: int, pod: int, slots: int,
                 pool: ConnectionPool | None) -> None:
        #: its place among the service's workers (a pod's workers are consecutive)
        self.index = index
        self.pod = pod
        self.cores = Cores(engine, 1.0, name)
        self.slots = Slots(engine, slots)
        self.inflight = 0
        self.pool = pool
        #: the process's AMQP connection (the layer gives one to every process)
        self.connection: Connection | None = None
        #: an injected stall: until then the process's requests get no CPU (stuck on something
        #: they all need) while it still accepts connections
        self.stalled_until = 0.0
        if pool is not None:
            pool.wake_delay = self.cores.backlog_seconds


class ServiceProcesses:
    """Every worker process of one service, its request counters and CPU gauge."""

    def __init__(self, engine: Engine, name: str, replicas: int, workers: int, slots: int,
                 pools: list[ConnectionPool] | None, recorder: Recorder, rng: np.random.Generator,
                 shared_queue: bool = False) -> None:
        self.engine = engine
        self.name = name
        self.recorder = recorder
        self.rng = rng
        count = replicas * workers
        self.workers = [Worker(engine, f"{name}-{i}", i, i // workers, slots, pools[i] if pools else None)
                        for i in range(count)]
        #: per pod, the indices of its workers with nothing in flight, in order (kept as
        #: ``inflight`` moves: the acceptor reads it at every new connection)
        self._idle = [list(range(p * workers, (p + 1) * workers)) for p in range(replicas)]
        #: per pod, the indices of its workers with a free greenthread (fewer requests in
        #: flight than slots: a request takes its slot as it is admitted), in order
        self._open = [list(range(p * workers, (p + 1) * workers)) for p in range(replicas)]
        self.per_pod = workers
        self.replicas = replicas
        self._next_pod = 0
        #: in the Service's endpoints (new connections are routed to it)
        self.up = [True] * replicas
        #: the pod's processes are gone (killed, or its node is down) until restarted
        self.dead = [False] * replicas
        #: bumped at every kill: a request admitted before it is lost with the process
        self.epoch = [0] * replicas
        #: mod_wsgi: one request queue per pod in front of its processes x threads
        self.pod_slots = [Slots(engine, workers * slots) for _ in range(replicas)] if shared_queue else None
        cpu_cores_gauge(recorder, name, lambda: sum(w.cores.busy_seconds() for w in self.workers))
        recorder.gauge(f'openstack_busy_ratio{{service="{name}"}}', self._busy_ratio)

    def _busy_ratio(self) -> float:
        """Share of request slots in use (keystone_workers_busy_ratio's source)."""
        total = sum(w.slots.capacity for w in self.workers)
        return sum(w.slots.in_use for w in self.workers) / total

    def _pod(self) -> int | None:
        """The pod a new connection lands on (round robin over the pods that are up)."""
        for _ in range(self.replicas):
            pod = self._next_pod
            self._next_pod = (self._next_pod + 1) % self.replicas
            if self.up[pod]:
                return pod
        return None

    def admit(self) -> Generator[Event, Any, Worker | None]:
        """Wait for a request slot; returns the worker that serves the request (None: no pod
        is up). eventlet: the process ``_acceptor`` picks, then a slot
        of that process. mod_wsgi (``shared_queue``): one queue per pod in front of all its
        processes' threads, served by whichever thread frees first (M/M/c)."""
        pod = self._pod()
        if pod is None:
            return None
        workers = self.workers[pod * self.per_pod:(pod + 1) * self.per_pod]
        if self.pod_slots is None:
            worker = self._acceptor(workers, self._idle[pod], self._open[pod])
            self._busy(worker)
            yield self.slot(worker.slots)
            return worker
        yield self.slot(self.pod_slots[pod])
        worker = min(workers, key=lambda w: w.inflight)
        self._busy(worker)
        worker.slots.try_acquire()
        return worker

    def _busy(self, worker: Worker) -> None:
        if worker.inflight == 0:
            self._idle[worker.pod].remove(worker.index)
        worker.inflight += 1
        if worker.inflight == worker.slots.capacity:
            self._open[worker.pod].remove(worker.index)

    def _acceptor(self, workers: list[Worker], idle_indices: list[int], open_indices: list[int]) -> Worker:
        """The eventlet process that accepts a new connection: every process's hub waits on
        the shared listening socket, and one whose hub is idle (nothing in flight) wins the
        race; when none is, whichever reaches its hub first, which is no better than chance
        (Podoliaka's accept() traces: uneven load, one worker serving twice the others), among
        those with a free greenthread (a full pool stops accepting); all full: the kernel's
        backlog, until a greenthread of one frees."""
        count = len(idle_indices)
        if count:
            return self.workers[idle_indices[int(self.rng.integers(count)) if count > 1 else 0]]
        if open_indices:
            return self.workers[open_indices[int(self.rng.integers(len(open_indices)))]]
        return workers[int(self.rng.integers(len(workers)))]

    def kill(self, pod: int, removal_delay: float) -> None:
        """The pod's processes die: requests on them are lost, and new connections still
        reach the pod (refused) until the endpoints drop it ``removal_delay`` later."""
        self.dead[pod] = True
        self.epoch[pod] += 1
        self.engine.schedule(removal_delay, self._remove, pod, self.epoch[pod])

    def _remove(self, pod: int, epoch: int) -> None:
        if self.dead[pod] and self.epoch[pod] == epoch:
            self.up[pod] = False
            self.recorder.event(self.engine.now, "endpoint_removed", f"{self.name}/{pod}")

    def serving(self, pod: int, endpoint_delay: float) -> None:
        """The restarted pod serves again; the endpoints take it back ``endpoint_delay`` later."""
        self.dead[pod] = False
        self.recorder.event(self.engine.now, "pod_serving", f"{self.name}/{pod}")
        self.engine.schedule(endpoint_delay, self._add, pod, self.epoch[pod])

    def _add(self, pod: int, epoch: int) -> None:
        if not self.dead[pod] and self.epoch[pod] == epoch:
            self.up[pod] = True
            self.recorder.event(self.engine.now, "endpoint_added", f"{self.name}/{pod}")

    def cpu(self, worker: Worker, seconds: float) -> Event:
        """``seconds`` of CPU on the worker's thread, drawn exponential around the mean (a
        request's work varies; the queueing figures then follow M/M/c where they should)."""
        done = self.engine.event()
        work = float(self.rng.exponential(seconds)) if seconds > 0 else 0.0
        blocked = worker.stalled_until - self.engine.now
        if blocked > 0:  # stalled: the request's work waits for the stall's end
            self.engine.schedule(blocked, worker.cores.submit, work, fire, done)
        else:
            worker.cores.submit(work, fire, done, owner=self.name)
        return done

    def slot(self, slots: Slots) -> Event:
        got = self.engine.event()
        slots.acquire(lambda: fire(got))
        return got

    def leave(self, worker: Worker) -> None:
        worker.inflight -= 1
        if worker.inflight == 0:
            bisect.insort(self._idle[worker.pod], worker.index)
        if worker.inflight == worker.slots.capacity - 1:
            bisect.insort(self._open[worker.pod], worker.index)
        worker.slots.release()
        if self.pod_slots is not None:
            self.pod_slots[worker.pod].release()
