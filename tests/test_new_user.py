"""A new user's session: the mistakes people make, the messages they get, what is kept."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scalelab.catalogue import registry
from scalelab.cli import main
from scalelab.scenarios import load_scenario

TINY = ["--set", "topology.worker_hosts=1", "--set", "workload.0.duration=20s",
        "--set", "workload.1.pods_per_node=1", "--set", "workload.1.control_plane_pods=1"]


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _one_line_error(err: str, *parts: str) -> None:
    assert err.startswith("scalelab: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in err, (part, err)


def test_a_scenario_file_names_itself_even_when_it_extends(tmp_path: Path, store_path: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("extends: campaign-900\ntopology: {worker_hosts: 2}\n")
    code, _out, err = _invoke("run", str(path), "--store", store_path)
    assert code == 2
    _one_line_error(err, str(path), "name: required field is missing")


def test_profile_set_on_the_command_line_lays_its_defaults_under_the_scenario() -> None:
    modern = load_scenario("campaign-900", ["profile=modern"])
    assert modern.profile == "modern"
    assert modern.dns.replicas == 2 and modern.dns.liveness == "split"  # modern's defaults
    assert modern.scheduler.generation == "1.5"  # campaign-900 says so itself: it stays
    assert modern.node_proxy.proxy_timeout == 3.0
    assert load_scenario("campaign-900").dns.replicas == 1


def test_text_fields_take_values_as_written() -> None:
    sc = load_scenario("campaign-900", ["profile=modern", "scheduler.generation=1.5"])
    assert sc.scheduler.generation == "1.5"
    assert load_scenario("campaign-900", ["scheduler.generation=1.5.2"]).scheduler.generation == "1.5.2"
    assert load_scenario("campaign-900", ["topology.worker_hosts=7"]).topology.worker_hosts == 7


def test_typos_get_a_suggestion(tmp_path: Path, store_path: str) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("name: t\nnode_proxy: {proxy_timout: 3s}\nworkload: [{kind: deploy, pods_per_nod: 3}]\n")
    code, _out, err = _invoke("run", str(path), "--store", store_path)
    assert code == 2
    _one_line_error(err, "node_proxy.proxy_timout: unknown field (did you mean 'proxy_timeout'?)",
                    "workload.0.pods_per_nod: unknown field (did you mean 'pods_per_node'?)")
    code, _out, err = _invoke("run", "campaign-90", "--store", store_path)
    _one_line_error(err, "did you mean 'campaign-900'?")
    code, _out, err = _invoke("run", "--set", "scheduler.generaton=1.5", "--store", store_path)
    _one_line_error(err, "did you mean 'scheduler.generation'?")
    code, _out, err = _invoke("run", "--set", "profile=moden", "--store", store_path)
    _one_line_error(err, "did you mean 'modern'?")


def test_extends_errors_name_the_file_the_field_and_the_built_ins(tmp_path: Path, store_path: str) -> None:
    path = tmp_path / "ext.yaml"
    path.write_text("name: x\nextends: campaign-9000\n")
    code, _out, err = _invoke("run", str(path), "--store", store_path)
    assert code == 2
    _one_line_error(err, str(path), "extends: 'campaign-9000'", "campaign-900-fixed")


def test_runs_lists_what_was_simulated(store_path: str) -> None:
    code, out, _err = _invoke("run", *TINY, "--format", "json", "--store", store_path)
    assert code == 0
    json.loads(out)


def test_impossible_sizes_are_refused_before_anything_is_allocated(store_path: str) -> None:
    code, _out, err = _invoke("run", "--set", "topology.worker_hosts=1000000000", "--store", store_path)
    assert code == 2
    _one_line_error(err, "needs about", "GiB for 5,000,000,000 nodes", "topology.worker_hosts", "--max-memory")
    code, _out, err = _invoke("run", *TINY, "--max-memory", "10Mi", "--store", store_path)
    assert code == 2
    _one_line_error(err, "above --max-memory")
    code, _out, err = _invoke("run", *TINY, "--max-memory", "lots", "--store", store_path)
    _one_line_error(err, "--max-memory: 'lots' is not a size")
    assert json.loads(_invoke("runs", "-o", "json", "--store", store_path)[1]) == []


def test_every_run_keeps_its_inputs_and_reruns_byte_identical(tmp_path: Path, store_path: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nextends: campaign-900\ntopology: {worker_hosts: 1}\nworkload:\n"
                    "  - {kind: steady, duration: 20s}\n  - {kind: deploy, pods_per_node: 1, control_plane_pods: 1}\n")
    code, out, err = _invoke("run", str(path), "--set", "node_proxy.proxy_timeout=10m", "--seed", "3",
                             "-o", "json", "--store", store_path)
    assert code == 0
    doc = json.loads(out)
    assert err.strip() == f"stored as run {doc['run_id']} in {store_path}"
    inputs = doc["inputs"]
    assert inputs["file"] == str(path) and inputs["seed"] == 3 and inputs["profile"] == "k8s-1.5"
    assert inputs["overrides"] == {"node_proxy.proxy_timeout": "10m", "seed": 3}
    assert inputs["document"]["topology"]["worker_hosts"] == 1 and inputs["document"]["name"] == "mine"
    shown = json.loads(_invoke("show", doc["run_id"][:6], "-o", "json", "--store", store_path)[1])
    assert shown["inputs"] == inputs
    rows = json.loads(_invoke("runs", "-o", "json", "--store", store_path)[1])
    assert rows[0]["nodes"] == 5 and rows[0]["pods"] == doc["summary"]["pods_running"]
    assert rows[0]["profile"] == "k8s-1.5" and rows[0]["overrides"] == inputs["overrides"]
    code, again, _err = _invoke("run", "--rerun", doc["run_id"], "-o", "json", "--store", store_path)
    assert code == 0
    first, second = json.loads(out), json.loads(again)
    first.pop("wall_seconds"), second.pop("wall_seconds")
    assert json.dumps(first) == json.dumps(second)  # inputs, argv included, are the original ones
    code, _out, err = _invoke("run", "campaign-900", "--rerun", doc["run_id"], "--store", store_path)
    assert code == 2
    _one_line_error(err, "--rerun takes no scenario")


def test_a_bad_store_is_found_before_the_simulation(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    code, _out, err = _invoke("run", "--set", "topology.worker_hosts=500", "--store", str(junk))
    assert code == 2
    _one_line_error(err, str(junk))
    other = tmp_path / "other.duckdb"
    import duckdb

    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE runs (id INTEGER)")
    con.close()
    code, _out, err = _invoke("run", *TINY, "--store", str(other))
    assert code == 2
    _one_line_error(err, "not a scalelab results store")


def test_output_for_pipes_and_for_scripts(store_path: str) -> None:
    code, out, _err = _invoke("run", *TINY, "-o", "YAML", "--store", store_path)
    assert code == 0
    import yaml

    doc = yaml.safe_load(out)
    assert doc["summary"]["nodes"] == 5.0
    code, table, _err = _invoke("show", doc["run_id"], "--store", store_path)
    assert code == 0
    fix_lines = [line for line in table.splitlines() if line.startswith("  fix: ")]
    assert fix_lines and all(line.rstrip().endswith(".") for line in fix_lines)  # not wrapped at 80 columns
    assert any(line.startswith("│ scheduler_seconds_per_pod_mean") and " µs " in line for line in table.splitlines())
    assert " %" in table and "/s" in table


def test_reproduce_and_catalogue_read_as_settings_and_reasons(store_path: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _err = _invoke("catalogue", "apiserver-reconnect-storm")
    assert code == 0
    assert "  node_proxy.proxy_timeout: 10m" in out and "  node_proxy.proxy_timeout: 3s" in out
    assert "{'" not in out
    entry = registry.ENTRIES["monitoring-retention-loss"]  # as an entry without its model reads
    monkeypatch.setitem(registry.ENTRIES, entry.id, dataclasses.replace(
        entry, reproduction=None, detect=None, not_modelled_reason="no model of it yet"))
    code, out, _err = _invoke("reproduce", "monitoring-retention-loss", "--store", store_path)
    assert code == 1 and "not_modelled" in out and "why: no model of it yet" in out
    code, out, _err = _invoke("catalogue")
    assert "why not modelled" in out


def test_ambiguous_runs_commands_and_help(store_path: str) -> None:
    for seed in ("1", "2"):
        assert _invoke("run", *TINY, "--seed", seed, "--store", store_path)[0] == 0
    ids = [r["run_id"] for r in json.loads(_invoke("runs", "-o", "json", "--store", store_path)[1])]
    code, _out, err = _invoke("show", "", "--store", store_path)  # a prefix every run shares
    assert code == 2
    _one_line_error(err, "is ambiguous: 2 runs", *ids)
    code, _out, err = _invoke("show", "zzzz", "--store", store_path)
    _one_line_error(err, "no run 'zzzz'")
    result = CliRunner().invoke(main, ["rnu"])
    assert result.exit_code == 2 and "did you mean 'run'?" in result.stderr
    code, out, _err = _invoke("--help")
    assert code == 0 and "campaign-900-fixed" in out and "SCALELAB_STORE" in out and "results.duckdb" in out


def test_progress_only_on_a_terminal_or_when_asked(store_path: str) -> None:
    quiet = CliRunner().invoke(main, ["run", *TINY, "-o", "json", "--store", store_path])
    assert quiet.exit_code == 0 and quiet.stderr.startswith("stored as run ") and quiet.stderr.count("\n") == 1
    loud = CliRunner().invoke(main, ["run", *TINY, "--set", "workload.0.duration=3m", "--progress", "-o", "json",
                                     "--store", store_path])
    assert loud.exit_code == 0
    lines = loud.stderr.splitlines()
    assert any(" s simulated, " in line and "of at most" in line for line in lines)
    assert json.loads(loud.stdout)["summary"]["nodes"] == 5.0  # stdout stays one JSON document
