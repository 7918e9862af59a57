"""The assembly: what every layer's components share, and the registries they join.

An ``Assembly`` holds the engine, the run's RNG tree, the recorder and the hosts with their
``Cores``. A layer's wiring module (``cluster.kubernetes``, later ``cluster.openstack``) builds
its components from the spec and registers, by name, what the run must call on them:
- ``every_tick``: cohort steps, in registration order, every ``tick_seconds``;
- ``on_node``: node lifecycle (down / up), for ``kill_node`` and ``restart_node`` faults;
- ``reconfigurable``: a spec section a ``reconfigure`` phase may change on the live cluster,
  and who takes the new section;
- ``fault``: a fault kind, what its targets are and what firing it does;
- ``phase``: a workload phase kind the layer drives (``deploy``, ...);
- ``on_finish``: end-of-run values a component alone knows, recorded for the summaries.
A name registered twice is an error; so is a registration its layer did not declare (the
loader validates scenarios against the declarations before anything is built). Components
never see the assembly: their layer passes them what they need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Cores, Engine, RngTree
from scalelab.spec.model import Fault, Scenario
from scalelab.workload.faults import FaultInjector, FaultKind

#: Gauges are sampled every 10 s (CONTRACTS.md: p95 of 10 s samples).
SAMPLE_SECONDS = 10.0

NodeHook = Callable[[int], None]
Tick = Callable[[float], None]
#: Starts a workload phase; returns the simulated time by which it ends at the latest.
PhaseStart = Callable[[object], float]


def _node_label(node: int) -> str:
    return f"node{node}"


class Assembly:
    """Engine, RNG tree, recorder, hosts and the registries of one run."""

    #: Fault kinds the assembly itself handles through the node lifecycle hooks.
    NODE_FAULTS = ("kill_node", "restart_node")

    def __init__(self, scenario: Scenario, tick_seconds: float) -> None:
        self.scenario = scenario
        self.engine = Engine()
        self.rng = RngTree(scenario.seed)
        self.recorder = Recorder(SAMPLE_SECONDS)
        self.hosts: dict[str, Cores] = {}
        self.tick_seconds = tick_seconds
        self._ticks: dict[str, Tick] = {}
        self._node_hooks: dict[str, tuple[NodeHook, NodeHook]] = {}
        self._reconfigurable: dict[str, Callable[[Scenario], None]] = {}
        self.faults: dict[str, FaultKind] = {}
        self.phases: dict[str, PhaseStart] = {}
        self._finish: dict[str, Callable[[Recorder], None]] = {}
        for kind in self.NODE_FAULTS:
            self.fault(kind, lambda: self.scenario.nodes, _node_label, self._node_fault)
        # The cohort clock and the sampler start before any component schedules anything.
        self.engine.schedule(self.tick_seconds, self._tick)
        self.engine.schedule(SAMPLE_SECONDS, self._sample)

    # -- registries -------------------------------------------------------------------
    @staticmethod
    def _add(registry: dict[str, object], what: str, name: str, value: object) -> None:
        if name in registry:
            raise ValueError(f"{what} {name!r} registered twice")
        registry[name] = value

    def host(self, name: str, threads: float) -> Cores:
        """A host (its hardware threads as processor-shared ``Cores``)."""
        cores = Cores(self.engine, threads, name)
        self._add(self.hosts, "host", name, cores)  # type: ignore[arg-type]
        return cores

    def cpu_gauge(self, cores: Cores, owner: str) -> Callable[[], float]:
        """A gauge of one process's CPU % (100 = one thread) on its host over the last sample
        interval, for any layer's processes."""
        every = self.recorder.sample_every
        last = [0.0]

        def read() -> float:
            busy = cores.owner_busy_seconds(owner)
            previous, last[0] = last[0], busy
            return 100.0 * (busy - previous) / every

        return read

    def every_tick(self, name: str, step: Tick) -> None:
        self._add(self._ticks, "tick", name, step)  # type: ignore[arg-type]

    def on_node(self, name: str, down: NodeHook, up: NodeHook) -> None:
        self._add(self._node_hooks, "node hook", name, (down, up))  # type: ignore[arg-type]

    def reconfigurable(self, section: str, apply: Callable[[Scenario], None]) -> None:
        self._add(self._reconfigurable, "reconfigurable section", section, apply)  # type: ignore[arg-type]

    def fault(self, kind: str, targets: Callable[[], int], label: Callable[[int], str],
              fire: Callable[[int, Fault], None]) -> None:
        self._add(self.faults, "fault kind", kind, FaultKind(targets, label, fire))  # type: ignore[arg-type]

    def phase(self, kind: str, start: PhaseStart) -> None:
        self._add(self.phases, "phase kind", kind, start)  # type: ignore[arg-type]

    def on_finish(self, name: str, record: Callable[[Recorder], None]) -> None:
        self._add(self._finish, "finish hook", name, record)  # type: ignore[arg-type]

    def check_declared(self, fault_kinds: Mapping[str, str] | tuple[str, ...],
                       reconfigurable: tuple[str, ...]) -> None:
        """The registrations are exactly what the layers declared to the loader."""
        if set(self.faults) != set(fault_kinds):
            raise ValueError(f"fault kinds registered {sorted(self.faults)} != declared {sorted(fault_kinds)}")
        if set(self._reconfigurable) != set(reconfigurable):
            raise ValueError(f"reconfigurable sections registered {sorted(self._reconfigurable)} "
                             f"!= declared {sorted(reconfigurable)}")

    # -- what the run calls -------------------------------------------------------------
    def node_down(self, node: int) -> None:
        for down, _up in self._node_hooks.values():
            down(node)

    def node_up(self, node: int) -> None:
        for _down, up in self._node_hooks.values():
            up(node)

    def _node_fault(self, node: int, fault: Fault) -> None:
        self.node_down(node)
        if fault.kind == "restart_node":
            self.engine.schedule(fault.duration, self._restarted, node)

    def _restarted(self, node: int) -> None:
        self.recorder.event(self.engine.now, "node_restarted", _node_label(node))
        self.node_up(node)

    def reconfigure(self, new: Scenario) -> None:
        """The live cluster takes a patched scenario: each changed section goes to whoever
        registered it."""
        old, self.scenario = self.scenario, new
        for section, apply in self._reconfigurable.items():
            if getattr(old, section) != getattr(new, section):
                apply(new)

    def _tick(self) -> None:
        for step in self._ticks.values():
            step(self.tick_seconds)
        self.engine.schedule(self.tick_seconds, self._tick)

    def _sample(self) -> None:
        self.recorder.sample(self.engine.now)
        self.engine.schedule(SAMPLE_SECONDS, self._sample)

    def inject_faults(self) -> FaultInjector:
        """Schedule the scenario's faults (after every layer registered its kinds)."""
        return FaultInjector(self.engine, self.scenario.faults, self.faults, self.recorder, self.rng.stream("faults"))

    def finish(self) -> None:
        for record in self._finish.values():
            record(self.recorder)
