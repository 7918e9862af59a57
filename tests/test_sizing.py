"""The memory estimate a run is guarded by, against the peak RSS of real runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scalelab import sizing
from scalelab.scenarios import load_scenario

# ``scalelab run`` as a user runs it, storing its run; then the peak of the process's own memory
# (VmHWM starts afresh at exec; ru_maxrss would carry the forking pytest's).
MEASURE = """
import sys
from scalelab.cli import main
store, sets = sys.argv[1], sys.argv[2:]
try:
    main(["run", *[a for s in sets for a in ("--set", s)], "-o", "json", "--store", store])
except SystemExit as exit:
    assert not exit.code, exit.code
status = open("/proc/self/status").read().split("VmHWM:")[1].split()
print(int(status[0]) * 1024)
"""


@pytest.mark.parametrize("sets", [
    ["topology.worker_hosts=2", "workload.0.duration=1m"],
    ["topology.worker_hosts=36", "workload.0.duration=1m", "scheduler.generation=modern"],
    ["topology.worker_hosts=60", "workload.0.duration=1m", "workload.1.pods_per_node=30",
     "workload.1.anti_affinity=false", "scheduler.generation=modern"],
])
def test_the_estimate_is_within_2x_of_the_measured_peak(sets: list[str], tmp_path: Path) -> None:
    estimate = sizing.estimate(load_scenario("campaign-900", sets)).bytes
    out = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "s.duckdb"), *sets], capture_output=True,
                         text=True, check=True)
    measured = float(out.stdout.strip().splitlines()[-1])
    assert measured / 2 <= estimate <= measured * 2, (estimate / 2**20, measured / 2**20)


def test_the_estimate_grows_with_nodes_and_pods() -> None:
    small = sizing.estimate(load_scenario("campaign-900", ["topology.worker_hosts=10"]))
    big = sizing.estimate(load_scenario("campaign-900", ["topology.worker_hosts=1000"]))
    assert (small.nodes, small.pods) == (50, 5 * 50 + 80) and (big.nodes, big.pods) == (5000, 5 * 5000 + 80)
    assert big.bytes - small.bytes == pytest.approx(
        sizing.NODE_BYTES * (big.nodes - small.nodes) + sizing.POD_BYTES * (big.pods - small.pods))


def test_refusal_names_the_estimate_and_the_setting() -> None:
    sc = load_scenario("campaign-900")
    assert sizing.refusal(sc, limit=64 * 2**30) is None
    message = sizing.refusal(sc, limit=2**20)
    assert message is not None and "topology.worker_hosts" in message and "--max-memory" in message


def test_a_load_phase_counts_the_pods_it_may_create() -> None:
    # 30 pods per node, two scalings each up to 1.5x: up to 60 pods per node created and kept
    from scalelab.scenarios import apply_patch

    sc = apply_patch(load_scenario("campaign-900", ["topology.worker_hosts=10"]),
                     {"workload": [{"kind": "steady", "duration": "1m"}, {"kind": "load", "pods_per_node": 30}]})
    assert sizing.estimate(sc).pods == 2 * 30 * 50
