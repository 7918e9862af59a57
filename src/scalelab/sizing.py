"""How much memory a run will take, known from the scenario before anything is allocated.

A run's peak memory is the interpreter with its libraries and the store's writer plus what
grows with the cluster: per node its connection table rows, reflector state, scheduler row and
status timers; per workload pod its row in its phase's pod table, its PodInfo once created (kept
by the scheduler while placed), its events on the way through controller, scheduler, kubelet,
and its observations in the recorder (8 bytes each, handed to the results without a copy; the
store writes them compressed). Measured on this code (peak resident memory, VmHWM, of
``scalelab run`` storing its run, 2 cores, 2026-12-01): scale-5000 (5000 nodes, 150,000 pods)
297 MiB, scale-5000 at 22,500 nodes (675,000 pods) 929 MiB, scale-100k (100,000 nodes, 1,000,000
pods) 1,566 MiB: 1.2-1.4 KB a pod above the base and 1 KiB a node. (Before the pod table, the
handover and the compressed store: 726 and 2,755 MiB, ~4 KB a pod.) The coefficients are
rounded up: the guard is for sizes that cannot fit, not a bill.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from scalelab.spec.model import DensityPhase, DeployPhase, LoadPhase, Scenario

#: The interpreter, numpy, pydantic, click, rich, the simulator and DuckDB writing the run:
#: ~106 MB measured for a 10-node ``scalelab run``.
BASE_BYTES = 112 * 2**20
#: Per Kubernetes node (measured ~0.8 KB at 4 500 nodes, ~1 KB at 100,000).
NODE_BYTES = 1024
#: Per workload pod a deploy or density phase creates (measured 1.2-1.4 KB, see above).
POD_BYTES = 2048


@dataclass(frozen=True)
class Estimate:
    nodes: int
    pods: int
    bytes: float

    def describe(self) -> str:
        return (f"about {gib(self.bytes)} for {self.nodes:,} nodes and {self.pods:,} workload pods "
                f"({BASE_BYTES // 2**20} MiB + {NODE_BYTES // 1024} KiB per node + {POD_BYTES // 1024} KiB per pod)")


def gib(size: float) -> str:
    """A size in GiB, readable at any magnitude (``0.0762 GiB``, ``52,452 GiB``)."""
    value = size / 2**30
    return f"{value:,.0f} GiB" if value >= 100 else f"{value:.3g} GiB"


def estimate(scenario: Scenario) -> Estimate:
    """The run's peak memory, from the scenario alone."""
    nodes = scenario.nodes
    pods = sum(round(p.pods_per_node * nodes) + (p.control_plane_pods if p.control_plane_nodes > 0 else 0)
               for p in scenario.workload if isinstance(p, DeployPhase))
    pods += sum(round(p.pods_per_node * (nodes if p.nodes == "all" else min(p.nodes, nodes)))
                for p in scenario.workload if isinstance(p, DensityPhase))
    # a load test keeps every pod it created (scale-ups included: at most 1.5x, twice) in memory
    pods += sum(round(p.pods_per_node * nodes * (1 + 0.5 * p.scalings)) for p in scenario.workload
                if isinstance(p, LoadPhase))
    return Estimate(nodes, pods, float(BASE_BYTES + NODE_BYTES * nodes + POD_BYTES * pods))


def available_bytes() -> float:
    """Memory this machine can give a run now (``MemAvailable``; the physical size elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def refusal(scenario: Scenario, limit: float | None = None) -> str | None:
    """Why a run must not start (its estimate above ``limit``, by default what the machine has
    available), or None."""
    est = estimate(scenario)
    allowed = available_bytes() if limit is None else limit
    if est.bytes <= allowed:
        return None
    where = "--max-memory" if limit is not None else "this machine's available memory"
    return (f"{scenario.name}: needs {est.describe()}, above {where} ({gib(allowed)}): lower "
            f"topology.worker_hosts (or the deploy's pods_per_node), or raise --max-memory if the estimate is wrong")
