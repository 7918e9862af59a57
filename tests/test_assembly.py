"""The assembly's registries and the layers' declarations."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import small
from scalelab import cluster
from scalelab.cluster.assembly import Assembly
from scalelab.cluster.kubernetes import KubernetesLayer
from scalelab.cluster.openstack import OpenStackLayer
from scalelab.scenarios import load_scenario
from scalelab.simulation import Simulation
from scalelab.spec.loader import ScenarioError


def test_a_name_registered_twice_is_an_error() -> None:
    asm = Assembly(small(), 1.0)
    asm.every_tick("x", lambda _h: None)
    with pytest.raises(ValueError, match="tick 'x' registered twice"):
        asm.every_tick("x", lambda _h: None)
    with pytest.raises(ValueError, match="fault kind 'kill_node' registered twice"):
        asm.fault("kill_node", lambda: 1, str, lambda _t, _f: None)
    asm.host("h", 4)
    with pytest.raises(ValueError, match="host 'h'"):
        asm.host("h", 4)


def test_the_layers_register_exactly_what_they_declare() -> None:
    asm = Assembly(small(), 1.0)
    kubernetes = KubernetesLayer(asm)
    OpenStackLayer(asm, kubernetes.dns, kubernetes.openstack_dns_name)
    asm.check_declared(cluster.FAULT_KINDS, cluster.RECONFIGURABLE)
    assert set(asm.phases) == set(cluster.PHASES)
    with pytest.raises(ValueError, match="fault kinds registered"):
        asm.check_declared((*cluster.FAULT_KINDS, "disk_full"), cluster.RECONFIGURABLE)


def test_an_undeclared_fault_kind_is_bad_input_with_its_field_path(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\nfaults: [{kind: kill_node, at: 1s}, {kind: disk_full, at: 2s}]\n")
    with pytest.raises(ScenarioError, match=r"faults\.1\.kind: unknown fault kind 'disk_full'"):
        load_scenario(str(path))


def test_only_registered_sections_change_on_a_live_cluster() -> None:
    from scalelab.scenarios import apply_patch

    sc = load_scenario("campaign-900")
    with pytest.raises(ScenarioError, match=r"workload\.1\.set\.dns\.replicas: not changeable on a live cluster"):
        apply_patch(sc, {"workload": [{"kind": "steady", "duration": "1m"},
                                      {"kind": "reconfigure", "set": {"dns.replicas": 3}}]})


def test_reconfigure_reaches_only_the_changed_sections() -> None:
    sim = Simulation(small())
    seen: list[str] = []
    sim.asm._reconfigurable = {name: (lambda sc, name=name: seen.append(name))  # type: ignore[misc]
                               for name in sim.asm._reconfigurable}
    sim.reconfigure({"kubelet.qps": 7, "scheduler.generation": "modern"})
    assert seen == ["kubelet", "scheduler"]
    assert sim.scenario.kubelet.qps == 7


def test_node_faults_go_through_every_node_hook() -> None:
    asm = Assembly(small(), 1.0)
    calls: list[tuple[str, int]] = []
    asm.on_node("a", lambda n: calls.append(("a down", n)), lambda n: calls.append(("a up", n)))
    asm.on_node("b", lambda n: calls.append(("b down", n)), lambda n: calls.append(("b up", n)))
    asm.scenario = asm.scenario.model_copy(update={"faults": ()})
    fault = type("F", (), {"kind": "restart_node", "duration": 5.0})()
    asm.faults["restart_node"].fire(3, fault)  # type: ignore[arg-type]
    asm.engine.run(10.0)
    assert calls == [("a down", 3), ("b down", 3), ("a up", 3), ("b up", 3)]
