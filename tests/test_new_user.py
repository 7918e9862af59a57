"""A new user's session: the mistakes people make, the messages they get, what is kept."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

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
