"""A phase's pods as rows: PodInfo made from the template once, on first use; added pods keep
their own; a gone pod's PodInfo is let go."""

from __future__ import annotations

import math

import pytest

from scalelab.components.scheduler.framework import PodInfo
from scalelab.spec.model import DensityPhase
from scalelab.workload.density import density_pods
from scalelab.workload.pods import PodTable


def test_a_templated_pod_is_made_on_first_use_and_then_kept() -> None:
    made: list[int] = []

    def template(i: int) -> PodInfo:
        made.append(i)
        return PodInfo(name=f"p-{i}")

    table = PodTable(3, template)
    assert len(table) == 3 and made == []
    first = table.info(1)
    assert table.info(1) is first and made == [1]
    assert math.isnan(table.created[1]) and table.node[1] == -1


def test_added_pods_keep_their_own_info_and_callback() -> None:
    table = PodTable()
    calls: list[str] = []
    info = PodInfo(name="load-5-1")
    i = table.add(info, lambda: calls.append("running"))
    j = table.add(PodInfo(name="load-5-2"))
    assert (i, j, len(table)) == (0, 1, 2)
    assert table.info(i) is info and set(table.on_running) == {0}
    table.on_running[i]()
    table.release(i)
    assert calls == ["running"] and table.on_running == {}
    with pytest.raises(LookupError):
        table.info(i)  # gone, and a load phase's table has no template to make it again


def test_density_pods_are_named_and_labelled_per_replication_controller() -> None:
    phase = DensityPhase(kind="density", pods_per_node=3)
    table = density_pods(phase, 2000)  # 6000 pods: two RCs of 3000
    assert len(table) == 6000
    a, b, c = table.info(0), table.info(2999), table.info(3000)
    assert (a.name, b.name, c.name) == ("density-0-0", "density-0-2999", "density-1-0")
    assert a.labels is b.labels and a.labels != c.labels  # an RC's pods share one labels mapping
