"""Build the layers of a cluster from a scenario, run its workload phases, return the results.

Wiring lives in one module per layer (``cluster.kubernetes``); this module only builds the
layers in order, runs the phases and hands the measurements over as plain data (``results``).
"""

from __future__ import annotations

from collections.abc import Callable

from scalelab import cluster
from scalelab.cluster.assembly import Assembly
from scalelab.cluster.kubernetes import KubernetesLayer, cohort_tick
from scalelab.cluster.monitoring import MonitoringLayer
from scalelab.cluster.openstack import OpenStackLayer
from scalelab.components.node_proxy import Fidelity
from scalelab.results import Results, Window
from scalelab.scenarios import apply_patch
from scalelab.spec.model import ReconfigurePhase, Scenario, SteadyPhase


class Simulation:
    def __init__(self, scenario: Scenario, fidelity: Fidelity = "cohort") -> None:
        self.asm = asm = Assembly(scenario, cohort_tick(scenario.node_proxy.proxy_timeout))
        self.engine = asm.engine
        self.recorder = asm.recorder
        self.kubernetes = KubernetesLayer(asm, fidelity)
        self.openstack = OpenStackLayer(asm, self.kubernetes.dns, self.kubernetes.openstack_dns_name)
        self.monitoring = MonitoringLayer(asm, self.kubernetes.workload_pods)
        asm.check_declared(cluster.FAULT_KINDS, cluster.RECONFIGURABLE)
        asm.inject_faults()

    @property
    def scenario(self) -> Scenario:
        """The scenario in force (a ``reconfigure`` phase replaces it)."""
        return self.asm.scenario

    def reconfigure(self, patch: dict[str, object]) -> None:
        """Apply a patch to the live cluster: each changed section goes to its component."""
        new = apply_patch(self.scenario, patch, source="reconfigure")
        self.asm.reconfigure(new)
        self.recorder.event(self.engine.now, "reconfigure", ", ".join(f"{k}={v}" for k, v in patch.items()))

    def run(self, progress: Callable[[float], None] | None = None) -> Results:
        """Every workload phase in order; the measurement window is the steady time before the
        first phase that is not steady."""
        engine = self.engine
        window_open = True
        window_end: float | None = None
        for index, phase in enumerate(self.scenario.workload):
            start = engine.now
            self.recorder.event(start, "phase", f"{index}:{phase.kind}")
            if isinstance(phase, SteadyPhase):
                engine.run(start + phase.duration, progress)
            elif isinstance(phase, ReconfigurePhase):
                window_open = False
                self.reconfigure(dict(phase.set))
                engine.run(start + phase.duration, progress)
            else:
                window_open = False
                engine.run(self.asm.phases[phase.kind](phase), progress)
            if window_open:
                window_end = engine.now
        self.asm.finish()
        window = Window(0.0, window_end, engine.now)
        return Results(engine.now, engine.events_processed, self.recorder.measurements(), window)
