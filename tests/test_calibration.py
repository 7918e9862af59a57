"""Calibration rows: the format, the held-out rule, and fidelity's model-against-measurement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scalelab.calibration.fidelity import evaluate
from scalelab.calibration.rows import HELD_OUT, load_rows
from scalelab.cli import main
from scalelab.spec.loader import ScenarioError

SMALL = {"topology.worker_hosts": 2, "workload": [{"kind": "steady", "duration": "30s"}]}


def _rows(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rows.yaml"
    path.write_text(text)
    return path


def test_the_shipped_rows_load_and_hold_out_the_report() -> None:
    rows = load_rows()
    assert rows and len({r.id for r in rows}) == len(rows)
    assert all(r.role == "check" for r in rows if r.origin in HELD_OUT)
    assert {"report", "pr-37691"} <= {r.origin for r in rows}


def test_a_held_out_row_cannot_train(tmp_path: Path) -> None:
    path = _rows(tmp_path, "rows:\n  - {id: x, source: s, origin: report, versions: v, component: scheduler, "
                           "role: train, metric: nodes, observed: 1}\n")
    with pytest.raises(ScenarioError, match=r"rows\.0.*held out: role must be check"):
        load_rows([path])


def test_bad_rows_name_the_file_and_field(tmp_path: Path) -> None:
    path = _rows(tmp_path, "rows:\n  - {id: x, source: s, origin: o, versions: v, component: sched, "
                           "role: check, metric: nodes, observed: -1}\n")
    with pytest.raises(ScenarioError) as info:
        load_rows([path])
    assert "rows.0.component" in str(info.value) and "rows.0.observed" in str(info.value)


def test_fidelity_reports_model_against_measurement(tmp_path: Path) -> None:
    setup = json.dumps({"scenario": "campaign-900", "set": SMALL})
    path = _rows(tmp_path, "rows:\n"
                 f"  - {{id: nodes-exact, source: s, origin: o, versions: v, component: kubelet, role: train, "
                 f"setup: {setup}, metric: nodes, observed: 10}}\n"
                 f"  - {{id: nodes-off, source: s, origin: o, versions: v, component: kubelet, role: check, "
                 f"setup: {setup}, metric: nodes, observed: 40}}\n")
    doc = evaluate(load_rows([path]), jobs=1)
    by_id = {r["id"]: r for r in doc["rows"]}
    assert by_id["nodes-exact"]["model"] == 10.0 and by_id["nodes-exact"]["ratio"] == 1.0
    assert by_id["nodes-off"]["ratio"] == 0.25 and not by_id["nodes-off"]["within_2x"]
    assert doc["within_2x"] == {"train": 1.0, "check": 0.0}
    assert "modern profile keeps its bottom-up values" in doc["note"]
    result = CliRunner().invoke(main, ["fidelity", str(path), "--jobs", "1", "-o", "json"])
    assert result.exit_code == 0
    assert set(json.loads(result.stdout)) >= {"params", "rows", "loo_log_error", "within_2x"}


def test_fidelity_on_the_priors_shows_the_model_before_calibration(tmp_path: Path) -> None:
    # the node-status load of a steady cluster: the apiserver's CPU scales with its request cost,
    # which the k8s-1.5 profile takes from the fit and k8s-1.5-priors from the bottom-up prior
    setup = json.dumps({"scenario": "campaign-900-fixed", "set": SMALL})
    path = _rows(tmp_path, "rows:\n"
                 f"  - {{id: cpu, source: s, origin: o, versions: v, component: apiserver, role: check, "
                 f"setup: {setup}, metric: apiserver_cpu_percent_mean, observed: 1}}\n")
    runs = {}
    for profile in ("k8s-1.5", "k8s-1.5-priors"):
        result = CliRunner().invoke(main, ["fidelity", str(path), "--jobs", "1", "--profile", profile, "-o", "json"])
        assert result.exit_code == 0, result.stderr
        runs[profile] = json.loads(result.stdout)["rows"][0]["model"]
    assert runs["k8s-1.5"] > 5 * runs["k8s-1.5-priors"] > 0
