"""Sweeps and breakpoint searches (issue: reports, export and sweeps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.breakpoint import breakpoint_search
from scalelab.cli import main
from scalelab.laws import extrapolate, fit_law
from scalelab.scenarios import load_scenario
from scalelab.spec.loader import ScenarioError
from scalelab.sweep import parse_range, parse_slo, parse_vary, sweep


def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"name": "tiny", "topology": {"worker_hosts": 2, "vms_per_host": 5},
                                    "workload": [{"kind": "steady", "duration": "20s"}]}), encoding="utf-8")
    return path


@settings(max_examples=30, deadline=None)
@given(a=st.floats(0.1, 100), b=st.floats(0.3, 2.5))
def test_a_power_law_is_recovered_and_chosen(a: float, b: float) -> None:
    points = [(x, a * x**b) for x in (10.0, 20.0, 45.0, 90.0, 180.0)]
    law = fit_law(points)
    assert law is not None and law["form"] == "power" and law["loo_error"] < 1e-6
    assert extrapolate(law, 360.0) == pytest.approx(a * 360.0**b, rel=1e-6)


def test_a_line_is_a_line() -> None:
    law = fit_law([(x, 3.0 * x + 7.0) for x in (1.0, 2.0, 4.0, 8.0, 16.0)])
    assert law is not None and law["form"] in ("poly1", "poly2") and law["loo_error"] < 1e-9


@pytest.mark.parametrize(("call", "text"), [
    (lambda: parse_slo("latency about 1"), "--slo"), (lambda: parse_range("x=5..1"), "--vary"),
    (lambda: parse_range("x=a..b"), "--vary")])
def test_bad_sweep_input_is_a_user_error(call: object, text: str) -> None:
    with pytest.raises(ScenarioError, match=text):
        call()  # type: ignore[operator]


def test_the_breakpoint_is_the_first_value_that_breaks(tmp_path: Path) -> None:
    base = load_scenario(str(tiny(tmp_path)))
    doc = breakpoint_search(base, "topology.worker_hosts", 1, 30, [parse_slo("nodes<=50")], workers=1)
    assert doc["breaks_at"] == 11 and doc["monotone"]  # 11 hosts x 5 VMs = 55 nodes
    assert doc["fits"]["nodes"]["form"] == "power" and doc["fits"]["nodes"]["params"][0] == pytest.approx(1.0)
    held = breakpoint_search(base, "topology.worker_hosts", 1, 4, [parse_slo("nodes<=50")], workers=1)
    assert held["breaks_at"] is None and len(held["runs"]) == 2


def test_a_sweep_is_the_cross_product_and_the_same_on_any_worker_count(tmp_path: Path) -> None:
    base = load_scenario(str(tiny(tmp_path)))
    vary = parse_vary(["topology.worker_hosts=2,3", "node_proxy.proxy_timeout=3s,10m"], base)
    one, _ = sweep(base, vary, 1, workers=1)
    two, _ = sweep(base, vary, 1, workers=2)
    assert len(one["runs"]) == 4 and one == two
    by = {(r["params"]["topology.worker_hosts"], r["params"]["node_proxy.proxy_timeout"]): r["summary"]
          for r in one["runs"]}
    # the storm: the apiserver works harder with a 3 s proxy timeout, and more with more nodes
    assert by[(3, "3s")]["apiserver_cpu_percent_p95"] > by[(2, "3s")]["apiserver_cpu_percent_p95"]
    assert by[(2, "3s")]["apiserver_cpu_percent_p95"] > by[(2, "10m")]["apiserver_cpu_percent_p95"]


def test_the_cli_stores_the_sweep_and_prints_its_document(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    result = CliRunner().invoke(main, ["sweep", str(tiny(tmp_path)), "--vary", "topology.worker_hosts=2,3",
                                       "--seeds", "2", "--workers", "1", "--store", store, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {r["seed"] for r in doc["runs"]} == {1, 2} and len(doc["runs"]) == 4
    import duckdb

    with duckdb.connect(store, read_only=True) as con:
        tagged = con.execute("SELECT count(*) FROM sweep_runs WHERE sweep_id = ?", [doc["sweep_id"]]).fetchone()
    assert tagged == (4,)
    bad = CliRunner().invoke(main, ["breakpoint", str(tiny(tmp_path)), "--vary", "calico.mode=1..5",
                                    "--slo", "nodes<=5", "--store", store])
    assert bad.exit_code == 2


def test_breakpoint_plots_the_runs_the_law_and_the_slo(tmp_path: Path) -> None:
    from PIL import Image

    plot = tmp_path / "bp.png"
    result = CliRunner().invoke(main, ["breakpoint", str(tiny(tmp_path)), "--vary", "topology.worker_hosts=1..12",
                                       "--slo", "nodes<=30", "--slo", "apiserver_cpu_percent_p95<=1000",
                                       "--workers", "1", "--plot", str(plot), "--store", str(tmp_path / "s.db"),
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["breaks_at"] == 7 and set(doc["fits"]) == {"nodes", "apiserver_cpu_percent_p95"}
    with Image.open(plot) as png:
        assert png.format == "PNG" and png.size == (700, 560)  # one panel per SLO metric


def test_a_sweep_on_a_dask_cluster_is_the_same_sweep(tmp_path: Path) -> None:
    base = load_scenario(str(tiny(tmp_path)))
    vary = parse_vary(["topology.worker_hosts=2,3"], base)
    on_dask, _ = sweep(base, vary, 1, workers=2, kind="dask")
    local, _ = sweep(base, vary, 1, workers=1)
    assert on_dask == local
