"""The report's workload slices and the traffic through them (issue: Heat stacks and slices).

``slices``: stack creations of the slice template, ``parallelism`` at once, slice i on compute
i (mod computes), each in its own project with its own user, followed as
``openstack stack create --wait`` follows it (python-heatclient's event poll every 5 s, here
a stack show). Recorded: ``stack_create_seconds`` (creations that completed, client side),
``heat_stacks_complete_total``, ``heat_stacks_failed_total``.

``traffic``: Locust users against every reachable WordPress and Magento VM of a complete slice
(a request, then a wait between ``min_wait`` and ``max_wait``) and YCSB threads against every
reachable Cassandra VM (closed loop); a request takes the role's CPU on one of the VM's vCPUs.
VMs the tenant network cannot reach (the empirical ``vm_tenant_unreachable`` fault) get
nothing: the report could not run its workloads against them. Recorded:
``traffic_response_seconds{role}``, ``traffic_requests_total{role}``,
``traffic_host_cpu_seconds_total{host}`` (the guests' CPU on each compute host),
``traffic_vms_unreachable`` and ``traffic_vms_served``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalelab.components.openstack.errors import ServiceError, fire
from scalelab.components.openstack.orchestration import IN_PROGRESS, Orchestration
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event, Slots
from scalelab.spec.slices import SlicesPhase, TrafficPhase

#: python-heatclient's poll_for_events period behind ``openstack stack create --wait`` (5 s)
WAIT_POLL_SECONDS = 5.0
WEB_ROLES = ("wordpress", "magento")


class SlicesRun:
    def __init__(self, heat: Orchestration, identity: Any, phase: SlicesPhase, computes: int, recorder: Recorder,
                 finished: Callable[[], None]) -> None:
        self.heat = heat
        self.identity = identity
        self.engine: Engine = heat.engine
        self.phase = phase
        self.computes = computes
        self.recorder = recorder
        self.finished = finished

    def start(self) -> None:
        self.engine.process(self._all())

    def _all(self) -> Generator[Event, Any, None]:
        count = self.phase.count or self.computes
        queue = iter(range(count))

        def worker() -> Generator[Event, Any, None]:
            for index in queue:
                yield from self._slice(index)

        yield self.engine.all_of([self.engine.process(worker()) for _ in range(min(self.phase.parallelism, count))])
        self.finished()

    def _slice(self, index: int) -> Generator[Event, Any, None]:
        engine, heat = self.engine, self.heat
        started = engine.now
        project = f"slice{index}"
        try:
            token = yield from self.identity.issue(f"{project}-user")
            stack = yield from heat.create(token, project, self.phase.template, host=index % self.computes)
            status = IN_PROGRESS
            while status == IN_PROGRESS:
                yield engine.timeout(WAIT_POLL_SECONDS)
                try:
                    status = yield from heat.show(token, stack)
                except ServiceError:
                    continue  # the client polls again
        except ServiceError as error:
            status = "CREATE_FAILED"
            self.recorder.event(engine.now, "stack_failed", f"{project}: {error}")
        if status == "CREATE_COMPLETE":
            self.recorder.inc("heat_stacks_complete_total")
            self.recorder.observe("stack_create_seconds", engine.now - started)
        else:
            self.recorder.inc("heat_stacks_failed_total")


class TrafficRun:
    def __init__(self, heat: Orchestration, phase: TrafficPhase, unreachable: set[str], recorder: Recorder,
                 rng: np.random.Generator) -> None:
        self.heat = heat
        self.engine: Engine = heat.engine
        self.phase = phase
        self.unreachable = unreachable
        self.recorder = recorder
        self.rng = rng

    def start(self) -> float:
        """Start the load on the sampled complete slices' application VMs; the phase's end."""
        end = self.engine.now + self.phase.duration
        complete = [s for s in self.heat.stacks.values() if s.status == "CREATE_COMPLETE"]
        served = unreachable = 0
        for stack in complete:
            for server, spec in zip(stack.servers, stack.template.servers, strict=False):
                if spec.request_cpu_seconds > 0:
                    if server in self.unreachable:
                        unreachable += 1
                    else:
                        served += 1
        self.recorder.final("traffic_vms_served", float(served))
        self.recorder.final("traffic_vms_unreachable", float(unreachable))
        size = self.phase.sample_slices
        if size is not None and size < len(complete):
            picked = sorted(int(i) for i in self.rng.choice(len(complete), size=size, replace=False))
            complete = [complete[i] for i in picked]
        self.recorder.final("traffic_duration_seconds", self.phase.duration)
        for stack in complete:
            host = f'traffic_host_cpu_seconds_total{{host="{stack.host}"}}'
            for server, spec in zip(stack.servers, stack.template.servers, strict=False):
                if spec.request_cpu_seconds <= 0 or server in self.unreachable:
                    continue
                vm = _Vm(spec.role, spec.request_cpu_seconds, Slots(self.engine, spec.vcpus), host)
                if spec.role in WEB_ROLES:
                    for _ in range(self.phase.users_per_app):
                        self.engine.process(self._locust_user(vm, end))
                elif self.phase.ycsb_target > 0:
                    self.engine.process(self._ycsb(vm, end))
        return end

    def _request(self, vm: _Vm) -> Generator[Event, Any, None]:
        sent = self.engine.now
        slot = self.engine.event()
        vm.vcpus.acquire(lambda: fire(slot))
        yield slot
        cpu = float(self.rng.exponential(vm.cpu))
        yield self.engine.timeout(cpu)
        vm.vcpus.release()
        self.recorder.observe(f'traffic_response_seconds{{role="{vm.role}"}}', self.engine.now - sent)
        self.recorder.inc(f'traffic_requests_total{{role="{vm.role}"}}')
        self.recorder.inc(vm.host_counter, cpu)  # the compute host's CPU the guest used

    def _locust_user(self, vm: _Vm, end: float) -> Generator[Event, Any, None]:
        engine, phase = self.engine, self.phase
        yield engine.timeout(float(self.rng.uniform(0, phase.max_wait)))  # users hatch over a first wait
        while engine.now < end:
            yield from self._request(vm)
            yield engine.timeout(float(self.rng.uniform(phase.min_wait, phase.max_wait)))

    def _ycsb(self, vm: _Vm, end: float) -> Generator[Event, Any, None]:
        """YCSB paced at its target: operations started 1/target apart (open loop)."""
        engine = self.engine
        gap = 1.0 / self.phase.ycsb_target
        while engine.now < end:
            engine.process(self._request(vm))
            yield engine.timeout(gap)


@dataclass(frozen=True)
class _Vm:
    """An application VM under traffic: its role, CPU per request, vCPUs and its host's counter."""

    role: str
    cpu: float
    vcpus: Slots
    host_counter: str
