"""Heat stacks, their guests' callbacks, the slices and their traffic (issue: Heat stacks and the
report's workload slices): each configuration entry fails on what its setting means."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.catalogue.registry import get
from scalelab.reproduce import evaluate_unresolved
from scalelab.runner import execute
from scalelab.scenarios import load_scenario
from scalelab.spec.endpoints import Endpoints, unreachable_from_vm
from scalelab.spec.loader import ScenarioError
from scalelab.spec.openstack import AgentList, OpenStack

#: fuel-ccp's first Heat render: internal URLs, no node ports
FUEL_CCP = {"clients_endpoint_type": "internalURL", "api_node_port": None, "api_cfn_node_port": None}


def cloud(heat: dict[str, Any] | None = None, **more: Any) -> OpenStack:
    return OpenStack.model_validate({"enabled": True, "heat": heat or {}, **more})


def hops(spec: OpenStack) -> dict[str, str | None]:
    return {c: (r[0] if (r := spec.callback_refused(c)) else None) for c in ("metadata", "cfn_signal", "heat_signal")}


@pytest.mark.parametrize(("heat", "more", "expected"), [
    # the workaround's defaults: node ports on the node address
    ({}, {}, {"metadata": None, "cfn_signal": None, "heat_signal": None}),
    # fuel-ccp's first render: every callback names a cluster Service
    (FUEL_CCP, {}, {"metadata": "dns", "cfn_signal": "dns", "heat_signal": "dns"}),
    # another wrong value: the public interface, no node ports, behind the TLS ingress whose names
    # VMs cannot resolve
    ({**FUEL_CCP, "clients_heat_endpoint_type": "publicURL"}, {"ingress_tls": True},
     {"metadata": "dns", "cfn_signal": "dns", "heat_signal": "dns"}),
    # another wrong value: the metadata URL on the node address at heat-api-cfn's container port
    ({"metadata_server_url": "http://172.20.8.61:8000"}, {}, {"metadata": "port", "cfn_signal": None,
                                                              "heat_signal": None}),
    # another wrong value: the metadata URL on heat-api's node port
    ({"metadata_server_url": "http://172.20.8.61:31777"}, {}, {"metadata": "port", "cfn_signal": None,
                                                               "heat_signal": None}),
    # correct values the report did not use: other node ports; the ingress names in a DNS the VMs
    # use
    ({"api_node_port": 30123, "api_cfn_node_port": 30124}, {}, {"metadata": None, "cfn_signal": None,
                                                                "heat_signal": None}),
    ({**FUEL_CCP, "clients_heat_endpoint_type": "publicURL"},
     {"ingress_tls": True, "endpoints": {"vm_resolvable_domains": ["ccp.external"]}},
     {"metadata": None, "cfn_signal": None, "heat_signal": None}),
    # heat-api-cfn not deployed: no cloudformation endpoint, nothing behind a configured URL
    ({"api_cfn": False}, {}, {"metadata": "url", "cfn_signal": "url", "heat_signal": None}),
    ({"api_cfn": False, "metadata_server_url": "http://172.20.8.61:31778"}, {},
     {"metadata": "service", "cfn_signal": "url", "heat_signal": None}),
])
def test_callbacks_reach_heat_by_what_the_urls_mean(heat: dict[str, Any], more: dict[str, Any],
                                                     expected: dict[str, str | None]) -> None:
    assert hops(cloud(heat, **more)) == expected


@given(port=st.integers(1, 65535), published=st.integers(30000, 32767))
def test_a_node_address_answers_only_on_its_node_port(port: int, published: int) -> None:
    refusal = unreachable_from_vm(f"http://172.20.8.61:{port}", "heat-api", {published: "heat-api"}, False,
                                  Endpoints())
    assert (refusal is None) == (port == published)


def test_the_catalogue_follows_fuel_ccps_address_rule() -> None:
    spec = cloud(FUEL_CCP, ingress_tls=True)
    assert spec.catalog_url("orchestration", "internalURL") == "http://heat-api.ccp.svc.cluster.local:8004"
    assert spec.catalog_url("orchestration", "publicURL") == "https://orchestration.ccp.external:8443"
    assert cloud({}).catalog_url("cloudformation", "publicURL") == "http://172.20.8.61:31778"
    assert cloud({"api_cfn": False}).catalog_url("cloudformation", "publicURL") is None


@pytest.mark.parametrize(("listing", "shown"), [
    ({"tool": "neutronclient"}, True),
    ({"tool": "openstackclient"}, False),  # the report: OSC reads 'alive', the SDK carries 'is_alive'
    ({"tool": "openstackclient", "osc_alive_attribute": "state"}, False),  # another wrong name
    # a correct value the report did not use: an OSC that reads the SDK's name
    ({"tool": "openstackclient", "osc_alive_attribute": "is_alive"}, True),
])
def test_the_cli_shows_an_alive_agent_by_the_attribute_it_reads(listing: dict[str, str], shown: bool) -> None:
    assert AgentList.model_validate(listing).shown_alive(True) == shown
    assert AgentList.model_validate(listing).shown_alive(False) is False


def _slices(tmp_path: Path, openstack: dict[str, Any], faults: list[dict[str, Any]] | None = None,
            traffic: bool = False, count: int = 4) -> dict[str, Any]:
    """A small cloud (4 computes) creating ``count`` slices, optionally with traffic."""
    workload: list[dict[str, Any]] = [{"kind": "steady", "duration": "5s"},
                                      {"kind": "slices", "count": count, "parallelism": 4}]
    if traffic:
        workload.append({"kind": "traffic", "duration": "30s", "sample_slices": None})
    doc: dict[str, Any] = {
        "name": "slices", "seed": 3,
        "openstack": {"enabled": True, "computes": 4, "control_plane_nodes": 3,
                      "galera": {"wsrep_deadlock_mapped": True}, "nova": {"retry_undecorated_paths": True},
                      **openstack},
        "hosts": {"vm": {"threads": 48, "memory": "264Gi"}}, "workload": workload, "faults": faults or []}
    path = tmp_path / "slices.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return execute(load_scenario(str(path))).summary


def test_slices_complete_with_every_callback_answered(tmp_path: Path) -> None:
    out = _slices(tmp_path, {})
    assert out["stacks_complete"] == 4 and out["stacks_failed"] == 0
    assert out["vms_without_metadata"] == 0 and out["heat_callback_failures_total"] == 0
    # the slowest setup (Magento, 300 s) after the guest's boot and the first poll bounds a slice
    assert 330 <= out["stack_create_seconds_p50"] <= 600
    assert out["heat_metadata_polls_total"] >= 4 * 4  # four configured VMs per slice poll at least once


@pytest.mark.parametrize(("heat", "hop"), [({"api_cfn": False}, "url"), (FUEL_CCP, "dns"),
                                           ({"metadata_server_url": "http://172.20.8.61:8000"}, "port")])
def test_a_callback_vms_cannot_make_fails_the_slices_at_its_hop(tmp_path: Path, heat: dict[str, Any],
                                                                 hop: str) -> None:
    out = _slices(tmp_path, {"heat": heat}, count=2)
    assert out["stacks_failed"] == 2 and out["stacks_complete"] == 0
    assert out[f'heat_callback_failures_total{{hop="{hop}"}}'] >= 1
    assert out["vms_without_metadata"] == 8  # every configured VM of both slices


@pytest.mark.parametrize(("convergence", "lost"), [(True, True), (False, False)])
def test_the_metadata_race_loses_pushes_only_under_convergence(tmp_path: Path, convergence: bool,
                                                               lost: bool) -> None:
    out = _slices(tmp_path, {"heat": {"convergence_engine": convergence}},
                  [{"kind": "heat_metadata_race", "share": 1.0, "at": "0s"}], count=2)
    assert (out["heat_metadata_lost_total"] == 8) == lost
    assert out["vms_without_metadata"] == (8 if lost else 0)
    assert out["stacks_failed"] == (2 if lost else 0)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_traffic_runs_only_against_vms_the_tenant_network_reaches(tmp_path: Path, share: float) -> None:
    out = _slices(tmp_path, {}, [{"kind": "vm_tenant_unreachable", "share": share, "at": "0s"}], traffic=True,
                  count=2)
    assert out["stacks_complete"] == 2  # the stacks complete either way
    if share == 1.0:
        assert out["traffic_vms_served"] == 0 and out["traffic_vms_unreachable"] == 6
        assert out["traffic_requests_total"] == 0
    else:
        assert out["traffic_vms_served"] == 6 and out["traffic_vms_unreachable"] == 0
        assert out["traffic_requests_total"] > 0
        magento, wordpress = (out[f'traffic_response_seconds_p50{{role="{r}"}}'] for r in ("magento", "wordpress"))
        assert magento > wordpress  # 200 ms against 50 ms of PHP per page
        # a slice's host: 5 users x (50 ms per ~1.05 s) + 5 users x (200 ms per ~1.2 s) + 100 x 1 ms
        # per second: ~1.18 cores
        assert 0.9 <= out["traffic_host_cpu_cores_max"] <= 1.5


def test_slices_land_one_per_compute(tmp_path: Path) -> None:
    from scalelab.simulation import Simulation

    doc: dict[str, Any] = {"name": "placed", "openstack": {"enabled": True, "computes": 3, "control_plane_nodes": 3,
                                                           "galera": {"wsrep_deadlock_mapped": True}},
                           "workload": [{"kind": "slices", "count": 3, "parallelism": 3}]}
    path = tmp_path / "placed.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    sim = Simulation(load_scenario(str(path)))
    sim.run()
    heat = sim.openstack.orchestration
    for stack in heat.stacks.values():
        assert {heat.compute.hosts[s] for s in stack.servers} == {int(stack.project.removeprefix("slice"))}


@pytest.mark.parametrize(("fault", "message"), [
    ({"kind": "heat_metadata_race"}, r"faults\.0: .*share"),
    ({"kind": "heat_api_stall", "share": 0.5}, r"faults\.0: .*share"),
])
def test_share_faults_need_a_share_and_others_refuse_it(tmp_path: Path, fault: dict[str, Any], message: str) -> None:
    doc = {"name": "bad", "openstack": {"enabled": True}, "faults": [fault]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(str(path))


def test_a_slices_phase_needs_the_cloud(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", "workload": [{"kind": "slices"}]}), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"slices or traffic phase needs openstack\.enabled"):
        load_scenario(str(path))


@settings(max_examples=20)
@given(unreachable=st.integers(0, 5), requests=st.integers(0, 10))
def test_an_unresolved_entry_has_one_run_and_no_fix(unreachable: int, requests: int) -> None:
    entry = get("vm-tenant-unreachable")
    summary = {"traffic_vms_unreachable": float(unreachable), "stacks_failed": 0.0,
               "traffic_requests_total": float(requests)}
    rec = SimpleNamespace(run_id="r", summary=summary, counters={})
    out = evaluate_unresolved(entry, rec, {})  # type: ignore[arg-type]
    assert out["status"] == "unresolved" and out["runs"]["fixed"] is None and not out["passed"]
    assert out["runs"]["broken"]["detected"] == (unreachable >= 1)
    assert (out["gap"] is None) == (unreachable >= 1 and requests >= 1)


@settings(max_examples=8, deadline=None)
@given(share=st.sampled_from([0.0, 0.5, 1.0]), convergence=st.booleans(), count=st.integers(1, 4),
       parallelism=st.integers(1, 4), api_cfn=st.booleans())
def test_every_slice_ends_complete_or_failed_and_the_counts_agree(share: float, convergence: bool, count: int,
                                                                  parallelism: int, api_cfn: bool) -> None:
    """Invariants of the slices whatever the settings: each stack is counted once, as complete
    or failed; a VM without its metadata means its stack failed; none is lost without the race."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        doc: dict[str, Any] = {
            "name": "inv", "seed": 5,
            "openstack": {"enabled": True, "computes": 2, "control_plane_nodes": 3,
                          "galera": {"wsrep_deadlock_mapped": True}, "nova": {"retry_undecorated_paths": True},
                          "heat": {"convergence_engine": convergence, "api_cfn": api_cfn}},
            "workload": [{"kind": "slices", "count": count, "parallelism": parallelism}],
            "faults": [{"kind": "heat_metadata_race", "share": share, "at": "0s"}]}
        path = Path(tmp) / "inv.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        out = execute(load_scenario(str(path))).summary
    assert out["stacks_complete"] + out["stacks_failed"] == count
    assert out["vms_without_metadata"] <= 4 * count
    if out["vms_without_metadata"] > 0:
        assert out["stacks_failed"] >= 1
    if not convergence or share == 0.0:
        assert out["heat_metadata_lost_total"] == 0
    if not api_cfn:  # no configured VM gets its metadata (one whose boot failed first is not counted)
        assert out["stacks_complete"] == 0 and out["vms_without_metadata"] >= 1


@pytest.mark.parametrize(("memory", "evicts"), [("128Ki", True), ("64Mi", False)])
def test_every_signed_poll_leaves_a_token_entry_until_the_lru_evicts_it(tmp_path: Path, memory: str,
                                                                        evicts: bool) -> None:
    """keystone caches the token it issues for each EC2-signed poll and sets no memcached expiry:
    the entries grow with the polls (an 8 KiB entry takes an 8,880-byte chunk, so 128 KiB hold
    14), and only a cache too small for them evicts."""
    out = _slices(tmp_path, {"memcached": {"memory": memory}}, count=2)
    polls = out["heat_metadata_polls_total"]
    assert polls > 2 ** 17 / 8880  # more signed polls than a 128 KiB cache holds entries
    # every poll's entry beyond the cache's 14 chunks is evicted (besides other tokens)
    assert (out["memcached_evictions_total"] >= polls - 14) == evicts
    assert out["stacks_complete"] == 2  # single-use entries evicted: nothing the slices need


def _deployments_run(tmp_path: Path, convergence: bool, retry: str) -> Any:
    """Four stacks of two servers with three deployments each, on one Galera node (no
    certification conflicts: only the compare-and-swap on the server's row is at play)."""
    servers = [{"role": "app", "deployment": True, "deployments": 3, "setup_seconds": 30.0}] * 2
    doc: dict[str, Any] = {
        "name": "deployments", "seed": 3,
        "openstack": {"enabled": True, "computes": 4, "control_plane_nodes": 3, "galera": {"nodes": 1},
                      "heat": {"convergence_engine": convergence, "metadata_push_retry": retry}},
        "hosts": {"vm": {"threads": 48, "memory": "264Gi"}},
        "workload": [{"kind": "steady", "duration": "5s"},
                     {"kind": "slices", "count": 4, "parallelism": 4, "template": {"servers": servers}}]}
    path = tmp_path / "deployments.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return execute(load_scenario(str(path))).summary


@pytest.mark.parametrize(("convergence", "retry", "conflicts", "fails"), [
    (True, "newton", True, True),    # pushed at once; Newton retries against the key it first read
    (True, "fixed", True, False),    # 7.0.5: the row refreshed before each attempt
    (False, "newton", False, False),  # legacy: a server's deployments one after another
])
def test_sibling_deployments_race_on_the_servers_row_only_under_convergence(
        tmp_path: Path, convergence: bool, retry: str, conflicts: bool, fails: bool) -> None:
    out = _deployments_run(tmp_path, convergence, retry)
    assert (out["heat_metadata_push_conflicts_total"] > 0) == conflicts
    assert (out["heat_metadata_push_failures_total"] > 0) == fails
    assert (out["stacks_failed"] > 0) == fails
    assert (out["vms_without_metadata"] > 0) == fails
    assert out["stacks_complete"] + out["stacks_failed"] == 4
