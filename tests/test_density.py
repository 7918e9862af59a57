"""The density phase: Kubernetes' density test, with expectations derived from its settings."""

from __future__ import annotations

from typing import Any

import pytest

from scalelab.runner import execute
from scalelab.scenarios import apply_patch, load_scenario
from scalelab.spec.loader import ScenarioError


def _run(density: dict[str, Any], worker_hosts: int = 4, **extra: Any) -> dict[str, float | None]:
    sc = apply_patch(load_scenario("campaign-900"), {
        "topology.worker_hosts": worker_hosts, "node_proxy.proxy_timeout": "10m", **extra,
        "workload": [{"kind": "steady", "duration": "20s"}, {"kind": "density", **density}]})
    return execute(sc).summary


def test_creation_rate_bounds_the_density_test() -> None:
    # 20 nodes x 30 pods at the controller-manager's 20 creates/s (burst 30): ~30 s of creation,
    # then each pod's start (2 s kubelet + 1 s container, image pre-pulled).
    s = _run({"pods_per_node": 30})
    pods = 20 * 30
    created_by = (pods - 30) / 20.0  # the burst goes at once, the rest at the QPS
    assert s["pods_running"] == pods + 2 * 20
    assert s["density_all_running_seconds"] == pytest.approx(created_by + 3.0, abs=0.5)
    assert s["density_pods_per_second"] == pytest.approx(pods / s["density_all_running_seconds"], rel=1e-3)
    assert s["density_pods_per_second"] <= 20.0 + 30 / s["density_all_running_seconds"]


def test_a_faster_creation_rate_moves_the_bottleneck_to_the_kubelets_status_updates() -> None:
    # 100 pods on one node, created at 1000/s: all containers run within seconds, but the kubelet
    # reports them through its client at 5 QPS (burst 10), and each pod's three events (Pulled,
    # Created, Started) take a token before its status PUT: 400 tokens, ~78 s more until the
    # last pod is reported.
    s = _run({"pods_per_node": 100, "nodes": 1, "creation_qps": 1000})
    assert s["pods_running"] == 100 + 2 * 20
    assert s["density_all_running_seconds"] < 5.0
    # the first pod's container runs at 2 s (kubelet) + 1 s (container start); its events take
    # the first tokens, the last pod's PUT the 400th
    tokens = 100 * (3 + 1)
    assert s["density_all_reported_seconds"] == pytest.approx(2.0 + 1.0 + (tokens - 10) / 5.0, abs=1.0)


def test_pulling_images_adds_the_pull_to_every_pod() -> None:
    prepulled = _run({"pods_per_node": 2, "creation_qps": 1000})
    pulled = _run({"pods_per_node": 2, "creation_qps": 1000, "images": "pull"})
    pull = load_scenario("campaign-900").runtime.image_pull_seconds
    assert pulled["density_all_running_seconds"] == pytest.approx(
        prepulled["density_all_running_seconds"] + pull, abs=0.1)


def test_bad_density_settings_name_their_path() -> None:
    with pytest.raises(ScenarioError, match=r"workload\.1\.images"):
        _run({"images": "cached"})
