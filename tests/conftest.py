"""Shared fixtures: small clusters that run in well under a second."""

from __future__ import annotations

from typing import Any

import pytest

from scalelab.scenarios import load_scenario
from scalelab.spec.model import Scenario


def small(worker_hosts: int = 4, steady: str = "2m", extra: dict[str, Any] | None = None,
          base: str = "campaign-900", deploy: bool = False) -> Scenario:
    """A scaled-down campaign: ``worker_hosts`` x 5 nodes, one steady phase (and a deploy)."""
    from scalelab.scenarios import apply_patch

    sc = load_scenario(base)
    workload: list[dict[str, Any]] = [{"kind": "steady", "duration": steady}]
    if deploy:
        workload.append({"kind": "deploy", "pods_per_node": 5, "control_plane_pods": 8, "control_plane_nodes": 2})
    patch: dict[str, Any] = {"topology.worker_hosts": worker_hosts, "workload": workload}
    patch.update(extra or {})
    return apply_patch(sc, patch)


@pytest.fixture
def store_path(tmp_path: Any) -> str:
    return str(tmp_path / "store.duckdb")
