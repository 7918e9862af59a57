"""The command line: JSON shapes, exit codes, one-line errors, nothing stored on bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scalelab.catalogue import registry
from scalelab.cli import main

SMALL = ["--set", "topology.worker_hosts=2", "--set", "workload.0.duration=30s",
         "--set", "workload.1.pods_per_node=1", "--set", "workload.1.control_plane_pods=2"]


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_run_json_contract(store_path: str) -> None:
    code, out, _err = _invoke("run", "campaign-900", *SMALL, "--format", "json", "--store", store_path)
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"run_id", "scenario", "profile", "seed", "sim_seconds", "wall_seconds", "events",
                        "summary", "findings", "inputs", "trends"}  # trends: added (additive)
    assert all(isinstance(v, list) and len(v) <= 40 for v in doc["trends"].values())
    assert set(doc["inputs"]) == {"document", "file", "overrides", "profile", "seed", "version", "argv"}
    for key in ("nodes", "pods_running", "apiserver_cpu_percent_mean", "apiserver_cpu_percent_p95",
                "apiserver_cpu_percent_total_mean", "node_proxy_reconnects_per_second",
                "api_response_seconds_mean", "api_response_seconds_p99", "api_mutating_response_seconds_p99",
                "api_429_share", "scheduler_seconds_per_pod_mean", "scheduling_sim_seconds"):
        assert key in doc["summary"]
    assert doc["findings"][0]["id"] == "apiserver-reconnect-storm"
    assert set(doc["findings"][0]["evidence"]) == {"file", "lines", "value", "metric", "observed"}
    code, out, _ = _invoke("runs", "--format", "json", "--store", store_path)
    assert code == 0 and json.loads(out)[0]["run_id"] == doc["run_id"]
    code, out, _ = _invoke("show", doc["run_id"][:8], "--format", "json", "--store", store_path)
    assert code == 0 and json.loads(out)["summary"] == doc["summary"]


def test_bad_input_exits_2_with_one_line_and_stores_nothing(store_path: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntopology: {worker_hosts: -3}\n")
    for args in (["run", "nope"], ["run", str(bad)], ["run", "--set", "x.y=1"],
                 ["run", "--set", "node_proxy.proxy_timeout=fast"], ["show", "abc"], ["reproduce", "nope"],
                 ["catalogue", "nope"]):
        code, _out, err = _invoke(*args, "--store", store_path)
        assert code == 2, args
        assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("scalelab: error:")
    listed = _invoke("runs", "--format", "json", "--store", store_path)[1]
    assert json.loads(listed) == []


def test_catalogue_lists_every_id() -> None:
    code, out, _ = _invoke("catalogue", "--format", "json")
    assert code == 0
    ids = [d["id"] for d in json.loads(out)]
    assert len(ids) == 24 and ids[0] == "apiserver-reconnect-storm"
    assert {d["status"] for d in json.loads(out)} == {"modelled"}  # every entry has a reproduction


def _unmodelled(monkeypatch: pytest.MonkeyPatch, entry_id: str) -> None:
    """An entry as it was before its reproduction existed (data only, with its reason)."""
    entry = registry.ENTRIES[entry_id]
    monkeypatch.setitem(registry.ENTRIES, entry_id, dataclasses.replace(
        entry, reproduction=None, detect=None, not_modelled_reason="no model of it yet"))


def test_reproduce_not_modelled_exits_1(store_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _unmodelled(monkeypatch, "monitoring-retention-loss")
    code, out, _ = _invoke("reproduce", "monitoring-retention-loss", "--format", "json", "--store", store_path)
    assert code == 1
    doc = json.loads(out)
    assert doc["status"] == "not_modelled" and doc["passed"] is False and doc["gap"] == "no model of it yet"


def test_run_accepts_every_phase_kind(store_path: str, tmp_path: Path) -> None:
    # the command plans its progress from every phase: a phase without a duration must not crash it
    scenario = tmp_path / "phases.yaml"
    scenario.write_text(
        "name: phases\ntopology: {worker_hosts: 1}\nnode_proxy: {proxy_timeout: 10m}\nworkload:\n"
        "  - {kind: steady, duration: 5s}\n  - {kind: density, pods_per_node: 1}\n"
        "  - {kind: dns_load, rate: 10, services: 5, duration: 5s}\n"
        "  - {kind: load, pods_per_node: 2, actions_per_second: 5}\n")  # a load test runs its stages out
    code, out, err = _invoke("run", str(scenario), "--format", "json", "--store", store_path)
    assert code == 0, err
    summary = json.loads(out)["summary"]
    assert summary["density_pods_per_second"] > 0
    assert summary["load_pods_created_total"] == summary["load_pods_deleted_total"] > 0


def test_reproduce_all_by_layer_and_layer_needs_all(store_path: str) -> None:
    code, out, err = _invoke("reproduce", "pxc-deadlock-not-retried", "--layer", "openstack", "--store", store_path)
    assert code == 2 and "--layer: only with 'all'" in err
    code, out, _ = _invoke("reproduce", "all", "--layer", "monitoring", "--format", "json", "--store", store_path)
    assert code == 0 and [d["id"] for d in json.loads(out)] == ["monitoring-retention-loss"]
    assert json.loads(out)[0]["status"] == "reproduced"
