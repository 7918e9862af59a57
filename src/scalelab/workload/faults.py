"""Injected faults, one schema for every kind (``faults: [{kind, target, at | rate, duration}]``).

The injector only decides *when* and *where* a fault fires: at ``at`` (simulated seconds), or
as a Poisson process at ``rate`` per target per hour; ``target`` is an index or ``random``.
*What* a kind does is registered by the layer that owns it (``cluster``): ``kill_node`` and
``restart_node`` go through the node lifecycle hooks (``duration`` later the node comes back
and its processes LIST + WATCH everything), ``docker_hang`` hangs a node's runtime,
``dnsmasq_oom`` and ``healthz_oom`` kill a container of a kube-dns replica (their targets are
replicas). The engine is not touched: a fault is a scheduled callback on the components.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine
from scalelab.spec.model import Fault


@dataclass(frozen=True)
class FaultKind:
    """How a fault kind is fired: how many targets there are, how one is named in the run's
    events, and what firing it at a target does."""

    targets: Callable[[], int]
    label: Callable[[int], str]
    fire: Callable[[int, Fault], None]


class FaultInjector:
    def __init__(self, engine: Engine, faults: Sequence[Fault], kinds: Mapping[str, FaultKind],
                 recorder: Recorder, rng: np.random.Generator) -> None:
        self.engine = engine
        self.kinds = kinds
        self.recorder = recorder
        self.rng = rng
        unknown = sorted({f.kind for f in faults} - set(kinds))
        if unknown:
            raise ValueError(f"no layer handles fault kinds {unknown}")
        for fault in faults:
            if fault.at is not None:
                engine.at(fault.at, self._fire, fault)
            if fault.rate is not None:
                self._next_poisson(fault)

    def _next_poisson(self, fault: Fault) -> None:
        assert fault.rate is not None
        per_second = fault.rate * self.kinds[fault.kind].targets() / 3600.0
        self.engine.schedule(float(self.rng.exponential(1.0 / per_second)), self._fire_poisson, fault)

    def _fire_poisson(self, fault: Fault) -> None:
        self._fire(fault)
        self._next_poisson(fault)

    def _fire(self, fault: Fault) -> None:
        kind = self.kinds[fault.kind]
        count = kind.targets()
        target = int(self.rng.integers(count)) if fault.target == "random" else int(fault.target)
        if target >= count:
            return  # a target beyond a scaled-down cluster: nothing to break
        self.recorder.inc(f'faults_total{{kind="{fault.kind}"}}')
        self.recorder.event(self.engine.now, fault.kind, kind.label(target))
        kind.fire(target, fault)
