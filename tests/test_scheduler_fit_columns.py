"""The resource plugins' columns kept per pod shape equal the plugins' own computation, bit for
bit, after any placing and removing; decisions with and without them are the same."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.components.scheduler.fit_columns import least_allocated
from scalelab.components.scheduler.framework import Framework, NodeTable, PodInfo
from scalelab.components.scheduler.plugins import DEFAULT_PROFILE, default_registry

# shapes with awkward binary fractions (0.1, 0.3 cores; odd byte counts) so rounding shows
SHAPES = [(0.1, 2.0**27), (0.25, 3e8 + 7), (0.3, 1.1e9), (1.7, 5e9 + 3), (0.0, 0.0)]


def _table(cpus: list[float], mems: list[float], max_pods: int) -> NodeTable:
    n = len(cpus)
    return NodeTable([f"n{i}" for i in range(n)], [{"kubernetes.io/hostname": f"n{i}"} for i in range(n)],
                     np.array(cpus), np.array(mems), allowed_pods=np.full(n, max_pods))


def _assert_columns_fresh(table: NodeTable) -> None:
    assert np.array_equal(table.room, table.pod_count < table.allowed_pods)
    for cpu, memory in SHAPES:
        fit = table.fit(cpu, memory)
        assert fit is not None
        assert np.array_equal(fit.cpu_ok, table.requested_cpu + cpu <= table.cpu_limit)
        assert np.array_equal(fit.memory_ok, table.requested_memory + memory <= table.memory_limit)
        fresh = least_allocated(table.requested_cpu, table.requested_memory, cpu, memory,
                                table.allocatable_cpu, table.allocatable_memory)
        assert np.array_equal(fit.least_allocated, fresh)


capacities = st.lists(st.tuples(st.floats(0.5, 16.0), st.floats(1e9, 6.4e10)), min_size=1, max_size=12)
steps = st.lists(st.tuples(st.booleans(), st.integers(0, 11), st.integers(0, len(SHAPES) - 1)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(capacities, steps, st.integers(1, 6))
def test_kept_columns_equal_a_fresh_computation_after_every_change(
        caps: list[tuple[float, float]], ops: list[tuple[bool, int, int]], max_pods: int) -> None:
    table = _table([c for c, _ in caps], [m for _, m in caps], max_pods)
    _assert_columns_fresh(table)  # every shape asked for once: kept from here on
    placed: list[tuple[int, PodInfo]] = []
    for i, (add, node, shape) in enumerate(ops):
        if add or not placed:
            cpu, memory = SHAPES[shape]
            pod = PodInfo(f"p{i}", cpu=cpu, memory=memory)
            table.add_pod(node % len(caps), pod)  # over-committing too: the columns must say so
            placed.append((node % len(caps), pod))
        else:
            where, pod = placed.pop(node % len(placed))
            table.remove_pod(where, pod)
        _assert_columns_fresh(table)


@settings(max_examples=40, deadline=None)
@given(capacities, st.lists(st.integers(0, len(SHAPES) - 1), min_size=1, max_size=40), st.integers(1, 4),
       st.one_of(st.none(), st.integers(1, 5)))
def test_decisions_are_the_same_with_the_kept_columns_and_without(
        caps: list[tuple[float, float]], shapes: list[int], max_pods: int, to_find: int | None) -> None:
    kept, plain = (_table([c for c, _ in caps], [m for _, m in caps], max_pods) for _ in range(2))
    plain._fit = None  # the plugins compute their own columns on this one
    fw_kept, fw_plain = (Framework(default_registry(), *DEFAULT_PROFILE) for _ in range(2))
    for i, shape in enumerate(shapes):
        cpu, memory = SHAPES[shape]
        pod = PodInfo(f"p{i}", cpu=cpu, memory=memory)
        a = fw_kept.schedule(pod, kept, to_find=to_find)
        b = fw_plain.schedule(pod, plain, to_find=to_find)
        assert (a.node, a.reasons, a.evaluated_nodes) == (b.node, b.reasons, b.evaluated_nodes)
        if a.node is not None:
            kept.add_pod(a.node, pod)
            plain.add_pod(a.node, pod)


def test_a_table_with_a_node_without_capacity_keeps_no_columns() -> None:
    table = _table([4.0, 0.0], [8e9, 8e9], 110)
    assert table.fit(0.1, 1e8) is None
