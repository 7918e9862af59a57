"""Scenario loading: every error at once, with file and field path; patches; built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalelab.scenarios import builtin_names, load_scenario
from scalelab.spec.loader import ScenarioError, apply_patch, parse_set, validate


def _write(tmp_path: Path, text: str | bytes, name: str = "s.yaml") -> str:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return str(p)


def test_builtin_campaign_matches_contract() -> None:
    sc = load_scenario("campaign-900")
    assert sc.nodes == 900 and sc.topology.worker_hosts == 180 and sc.topology.vms_per_host == 5
    assert sc.node_proxy.proxy_timeout == 3.0 and sc.apiserver.max_requests_inflight == 400
    assert sc.apiserver.replicas == 2 and sc.placement.control_plane == "hardware"
    assert sc.scheduler.generation == "1.5" and sc.calico.mode == "mesh" and sc.calico.route_reflectors == 0
    assert [p.kind for p in sc.workload] == ["steady", "deploy"]
    assert sc.workload[1].pods_per_node == 5  # type: ignore[union-attr]
    assert {"campaign-900", "campaign-900-fixed"} <= set(builtin_names())


def test_fixed_campaign_is_every_patch_applied() -> None:
    fixed = load_scenario("campaign-900-fixed")
    assert fixed.node_proxy.proxy_timeout == 600.0
    assert fixed.apiserver.max_requests_inflight == 2000
    assert fixed.name == "campaign-900-fixed"


def test_extends_and_set(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: mine\nextends: campaign-900\ntopology: {worker_hosts: 10}\n")
    sc = load_scenario(path, ["node_proxy.proxy_timeout=30s", "workload.1.pods_per_node=2.5"])
    assert sc.name == "mine" and sc.nodes == 50 and sc.node_proxy.proxy_timeout == 30.0
    assert sc.workload[1].pods_per_node == 2.5  # type: ignore[union-attr]
    assert sc.apiserver.replicas == 2  # inherited


def test_all_errors_reported_with_paths(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\ntopology: {worker_hosts: -1, vms_per_host: many}\nnode_proxy: {bogus: 1}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith(path)
    assert "topology.worker_hosts" in msg and "topology.vms_per_host" in msg
    assert "node_proxy.bogus: unknown field" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(("text", "needle"), [
    ("", "empty document"),
    ("- a\n- b\n", "expected a mapping"),
    ("name: [unclosed\n", "malformed YAML"),
    ("topology: {}\n", "name: required field is missing"),
    ("name: x\nnode_proxy: {proxy_timeout: soon}\n", "node_proxy.proxy_timeout"),
    ("name: x\nhosts: {vm: {threads: 8, memory: lots}}\n", "hosts.vm.memory"),
    ("name: x\nworkload: [{kind: dance}]\n", "workload.0"),
    ("name: x\nworkload: [{kind: deploy, pods_per_node: -1}]\n", "workload.0.pods_per_node"),
    ("name: x\nextends: nope\n", "unknown scenario"),
    ("name: x\nname: y\n---\nname: z\n", "expected one YAML document"),
    ("name: x\nseed: null\n", "seed"),
    ("name: x\nworkload: [{kind: reconfigure, set: {node_proxy.nope: 1}}]\n", "workload.0.set.node_proxy.nope"),
    ("name: x\nworkload: [{kind: reconfigure, set: {topology.worker_hosts: 9}}]\n", "not changeable on a live"),
    ("name: x\nworkload: [{kind: reconfigure, set: {node_proxy.proxy_timeout: x}}]\n", "workload.0.set."),
])
def test_bad_documents(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, text))
    assert needle in str(info.value)


def test_yaml_bomb_rejected(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    with pytest.raises(ScenarioError, match="aliases"):
        load_scenario(_write(tmp_path, "name: bomb\n" + "\n".join(lines) + "\n"))


def test_binary_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="binary"):
        load_scenario(_write(tmp_path, b"\x7fELF\x00\x01\x02", "x.yaml"))


def test_missing_file_and_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(str(tmp_path / "missing.yaml"))
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load_scenario("campaign-9000")


@pytest.mark.parametrize("item", ["nodes", "=3", "node_proxy.nope=1", "workload.9.pods_per_node=1",
                                  "topology.worker_hosts=[1, 2]", "topology.worker_hosts=-4"])
def test_bad_set(item: str) -> None:
    with pytest.raises(ScenarioError):
        load_scenario("campaign-900", [item])


def test_patch_validates_like_a_file() -> None:
    sc = load_scenario("campaign-900")
    assert apply_patch(sc, {"apiserver.max_requests_inflight": 2000}).apiserver.max_requests_inflight == 2000
    with pytest.raises(ScenarioError):
        apply_patch(sc, {"apiserver.max_requests_inflight": "many"})
    assert parse_set(["a.b=10m", "c=true"]) == {"a.b": "10m", "c": True}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_fuzzed_input_gives_scenario_error_or_scenario(tmp_path: Path, data: bytes | str) -> None:
    path = _write(tmp_path, data, "fuzz.yaml")
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert "\n" not in str(exc)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "topology", "node_proxy", "workload", "faults", "seed",
                                        "extends", "apiserver", "placement", "bogus"]), yaml_values, max_size=5))
def test_fuzzed_documents_never_crash(doc: dict[str, object]) -> None:
    from scalelab.spec.loader import resolve_document, validate

    try:
        validate(resolve_document(doc, "fuzz"), "fuzz")
    except ScenarioError as exc:
        assert "\n" not in str(exc)


def test_a_profile_reaches_the_generated_fixed_campaign() -> None:
    # campaign-900-fixed is generated from campaign-900 and the fixes: its document must not carry
    # the k8s-1.5 profile's values, or another profile could not lay its own under it
    from scalelab.scenarios import load

    calibrated = load("campaign-900-fixed").scenario
    priors = load("campaign-900-fixed", ["profile=k8s-1.5-priors"]).scenario
    modern = load("campaign-900-fixed", ["profile=modern"]).scenario
    assert calibrated.apiserver.request_cpu_seconds > 10 * priors.apiserver.request_cpu_seconds
    assert modern.apiserver.request_cpu_seconds == priors.apiserver.request_cpu_seconds
    assert modern.dns.liveness == "split" and calibrated.dns.liveness != "split"
    # the fixes themselves hold on every profile
    assert {s.node_proxy.proxy_timeout for s in (calibrated, priors, modern)} == {600.0}
    assert {s.scheduler.generation for s in (calibrated, priors)} == {"1.5.2"}


def test_a_node_address_that_is_no_host_names_the_field_and_the_form() -> None:
    with pytest.raises(ScenarioError, match=r"f\.yaml: openstack\.endpoints\.k8s_external_ip: expected an IPv4 "
                                            r"address or a DNS name, got '\['"):
        validate({"name": "x", "openstack": {"endpoints": {"k8s_external_ip": "["}}}, "f.yaml")
    assert validate({"name": "x", "openstack": {"endpoints": {"k8s_external_ip": "node-1.lab"}}},
                    "f.yaml").openstack.endpoints.k8s_external_ip == "node-1.lab"
