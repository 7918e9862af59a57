"""scalelab calibrate: the fit recovers known costs; held-out rows never train; the overlay."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from scalelab.calibration import fit as fitting
from scalelab.calibration.rows import Row
from scalelab.cli import main

PATH = "scheduler.per_node_cpu_seconds"


def _row(i: int, observed: float, role: str = "train") -> Row:
    return Row(id=f"r{i}", source="s", origin="o", versions="v", component="scheduler", role=role,  # type: ignore[arg-type]
               metric="scheduler_seconds_per_pod_mean", observed=observed, uncertainty=0.1)


def test_the_fit_recovers_a_known_cost_and_its_leave_one_out_errors_vanish() -> None:
    prior = fitting.prior_of(PATH)
    truth = 7.0 * prior
    scale = {0: 1000.0, 1: 3000.0, 2: 500.0}  # each row: the metric is proportional to the cost

    def evaluate(row: Row, overrides: dict[str, Any]) -> float:
        return scale[int(row.id[1:])] * overrides.get(PATH, prior)

    rows = [_row(i, scale[i] * truth) for i in scale]
    result = fitting.fit(rows, [PATH], evaluate)
    assert result.params[PATH] == pytest.approx(truth, rel=1e-3)
    assert result.priors[PATH] == prior
    loo = fitting.leave_one_out(rows, [PATH], evaluate)
    assert set(loo) == {"r0", "r1", "r2"} and max(loo.values()) < 1e-3
    overlay = fitting.overlay(result)
    assert overlay["extends"] == "k8s-1.5-priors" and overlay["set"] == {PATH: result.params[PATH]}
    assert overlay["provenance"][PATH]["rows"] == ["r0", "r1", "r2"]


def test_bounds_hold_the_fit_within_a_hundredfold_of_the_prior() -> None:
    prior = fitting.prior_of(PATH)
    rows = [_row(0, 1e12)]
    result = fitting.fit(rows, [PATH], lambda row, o: o.get(PATH, prior))
    assert result.params[PATH] <= prior * fitting.SPAN * (1 + 1e-9)  # never beyond the bound
    assert result.params[PATH] == pytest.approx(prior * fitting.SPAN, rel=fitting.TOLERANCE)  # and pressed to it


def test_only_train_rows_are_fitted_and_only_costs() -> None:
    with pytest.raises(ValueError, match="only train rows"):
        fitting.fit([_row(0, 1.0, role="check")], [PATH], lambda r, o: 1.0)
    with pytest.raises(KeyError):
        fitting.prior_of("scheduler.generation")


def test_calibrate_command_runs_the_model_and_writes_an_overlay(tmp_path: Path) -> None:
    setup = {"scenario": "campaign-900", "set": {
        "topology.worker_hosts": 2, "node_proxy.proxy_timeout": "10m", "scheduler.generation": "modern",
        "workload": [{"kind": "steady", "duration": "5s"},
                     {"kind": "density", "pods_per_node": 2, "creation_qps": 1000}]}}
    rows = {"rows": [{"id": "tiny", "source": "synthetic", "origin": "test", "versions": "v",
                      "component": "scheduler", "role": "train", "setup": setup,
                      "metric": "scheduler_seconds_per_pod_mean", "observed": 0.001, "uncertainty": 0.1},
                     {"id": "tiny-check", "source": "synthetic", "origin": "report", "versions": "v",
                      "component": "scheduler", "role": "check", "setup": setup,
                      "metric": "scheduler_seconds_per_pod_mean", "observed": 0.001}]}
    data = tmp_path / "rows.yaml"
    data.write_text(yaml.safe_dump(rows))
    out = tmp_path / "overlay.yaml"
    result = CliRunner().invoke(main, ["calibrate", str(data), "--fit", PATH, "--write", str(out), "--jobs", "1",
                                       "-o", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    fitted = doc["params"][PATH]
    assert fitted["low"] <= fitted["value"] <= fitted["high"] and fitted["value"] > fitted["prior"]
    check = next(r for r in doc["rows"] if r["id"] == "tiny-check")
    assert check["role"] == "check" and abs(math.log(check["ratio"])) < math.log(1.5)  # the fit reaches it
    assert yaml.safe_load(out.read_text())["set"][PATH] == pytest.approx(fitted["value"])
    # a second group of costs, fitted into the same overlay: the first group's values stay
    other = "apiserver.request_cpu_seconds"
    again = CliRunner().invoke(main, ["calibrate", str(data), "--fit", other, "--write", str(out), "--update",
                                      "--jobs", "1", "-o", "json"])
    assert again.exit_code == 0, again.stderr
    written = yaml.safe_load(out.read_text())
    assert set(written["set"]) == {PATH, other} and set(written["provenance"]) == {PATH, other}
    assert written["set"][PATH] == pytest.approx(fitted["value"]) and written["extends"] == "k8s-1.5-priors"
    bad = CliRunner().invoke(main, ["calibrate", str(data), "--fit", "scheduler.generation"])
    assert bad.exit_code == 2 and "not a cost" in bad.stderr


def test_a_profile_overlay_is_accepted_where_a_profile_is(tmp_path: Path) -> None:
    from scalelab.scenarios import load_scenario
    from scalelab.spec.loader import ScenarioError

    overlay = tmp_path / "fitted.yaml"
    overlay.write_text(yaml.safe_dump({"name": "fitted", "extends": "modern", "set": {PATH: 4e-05},
                                       "provenance": {PATH: {"rows": ["r0"]}}}))
    via_set = load_scenario("campaign-900", [f"profile={overlay}"])
    assert via_set.scheduler.per_node_cpu_seconds == 4e-05
    assert via_set.profile == "modern" and via_set.dns.liveness == "split"  # the overlay extends modern
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\nextends: campaign-900\nprofile: {overlay}\n")
    assert load_scenario(str(scenario)).scheduler.per_node_cpu_seconds == 4e-05
    result = CliRunner().invoke(main, ["run", "--profile", str(overlay), "--set", "topology.worker_hosts=1",
                                       "--set", "workload.0.duration=10s", "--set", "workload.1.pods_per_node=0",
                                       "-o", "json", "--store", str(tmp_path / "st.duckdb")])
    assert result.exit_code == 0, result.stderr
    inputs = json.loads(result.stdout)["inputs"]
    assert inputs["overrides"]["profile"] == str(overlay)
    assert inputs["document"]["scheduler"]["per_node_cpu_seconds"] == 4e-05
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: ancient\nset: {}\n")
    with pytest.raises(ScenarioError, match="extends: expected one of"):
        load_scenario("campaign-900", [f"profile={bad}"])
