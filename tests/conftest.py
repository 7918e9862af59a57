"""Shared fixtures: small clusters that run in well under a second."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(autouse=True, scope="session")
def _session_default_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A command that names no store writes to this session's (one per xdist worker): never to
    the user's own store, and two workers never contend for one DuckDB file's lock."""
    if os.environ.get("SCALELAB_STORE"):
        yield
        return
    patch = pytest.MonkeyPatch()
    patch.setenv("SCALELAB_STORE", str(tmp_path_factory.mktemp("store") / "results.duckdb"))
    yield
    patch.undo()
