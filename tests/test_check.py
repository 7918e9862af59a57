"""``scalelab check``: the real corpus at the right file and line, files of our own for every rule,
renamed files, hostile input (issue: ``scalelab check`` and ``scalelab import``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalelab.catalogue import onsets
from scalelab.catalogue.onsets import Onset
from scalelab.check.audit import audit, read_file
from scalelab.check.sarif import sarif
from scalelab.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-configs"


def found(paths: list[Path], nodes: int | None = None) -> dict[str, list[tuple[str, list[int] | None, str]]]:
    out: dict[str, list[tuple[str, list[int] | None, str]]] = {}
    for f in audit(paths, nodes).findings:
        lines = list(f.evidence.lines) if f.evidence.lines else None
        out.setdefault(f.id, []).append((Path(str(f.evidence.file)).name, lines, f.severity))
    return out


def test_the_broken_corpus_shows_every_expected_entry_at_its_file_and_lines() -> None:
    expected = json.loads((CORPUS / "expected.json").read_text())
    got = found([CORPUS / "broken"])
    for entry, (file, lines) in expected.items():
        assert (file, lines) in [(f, ln) for f, ln, _s in got.get(entry, [])], entry
    # the traps: neutron's own endpoint_type is not Heat's; the commented-out inbound address is
    # not read (the finding points at live_migration_uri)
    assert {f for f, _l, _s in got["heat-endpoint-unreachable"]} == {"heat.conf"}
    assert got["live-migration-uri"] == [("nova.conf", [123], "warning")]


def test_the_fixed_corpus_shows_none() -> None:
    # among the traps: [clients] endpoint_type = internalURL overridden in [clients_heat];
    # peer_with_router: false with a [calico-rr] group
    assert found([CORPUS / "fixed"]) == {}


def test_every_corpus_file_is_read() -> None:
    files = audit([CORPUS / "broken"]).files
    assert all(f.unreadable is None for f in files)
    assert {f.kind for f in files} >= {"nginx", "oslo-conf:heat", "ansible-inventory", "ccp-topology", "prometheus"}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


NGINX = "stream {\n  upstream api {\n    server 10.0.0.1:443;\n  }\n  server {\n    listen 443;\n" \
        "    proxy_pass api;\n    proxy_timeout 5s;\n  }\n}\n"
SCHEDULER = """apiVersion: v1
kind: Pod
metadata: {name: sched}
spec:
  containers:
  - name: sched
    image: gcr.io/google_containers/kube-scheduler:v1.5.1
    command: [kube-scheduler, --leader-elect=true]
"""
APISERVER = """apiVersion: v1
kind: Pod
metadata: {name: api}
spec:
  containers:
  - name: api
    image: gcr.io/google_containers/kube-apiserver:v1.5.3
    command: [kube-apiserver, --max-requests-inflight=300]
"""
KUBEDNS = """apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: kube-dns}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: kubedns
        resources: {limits: {cpu: 200m}}
      - name: dnsmasq
        args: [--cache-size=1000]
"""
HEAT = "[DEFAULT]\nstack_user_domain_name = heat\nstack_domain_admin = heat_domain_admin\n" \
       "rpc_response_timeout = 90\n\n[heat_api]\nworkers = 4\n\n[clients]\nendpoint_type = adminURL\n\n" \
       "[keystone_authtoken]\nproject_name = services\n"


@pytest.mark.parametrize(("name", "text", "entry", "lines"), [
    # renamed files: the content decides the importer
    ("proxy.txt", NGINX, "apiserver-reconnect-storm", [8]),
    ("sched.yaml", SCHEDULER, "scheduler-antiaffinity-slow", [7]),
    ("dns.yml", KUBEDNS, "kubedns-overload", [5, 10, 11, 12]),  # 11: dnsmasq, no CPU limit
    ("orchestration.ini", HEAT, "heat-endpoint-unreachable", [10]),
    ("orchestration.ini", HEAT, "heat-rpc-timeout", [4]),  # 90 s: still under the report's 600
    ("orchestration.ini", HEAT, "heat-api-slow-workers", [7]),
    ("orchestration.ini", HEAT, "heat-convergence-race", None),
    ("orchestration.ini", HEAT, "service-roles-misconfigured", [13]),
    ("roles.yaml", "roles:\n  ctl:\n    - heat-api\n    - heat-engine\n", "heat-api-cfn-missing", [2, 3, 4]),
    ("mc.yaml", "configs:\n  memcached:\n    ram: 512\n", "memcached-undersized", [3]),
    ("compute.ini", "[DEFAULT]\nnovncproxy_base_url = https://console.example:8443/vnc\n\n[libvirt]\n"
                    "live_migration_uri = qemu+ssh://%s/system\n", "nova-client-https", None),
    ("compute.ini", "[DEFAULT]\nnovncproxy_base_url = https://console.example:8443/vnc\n\n[libvirt]\n"
                    "live_migration_uri = qemu+ssh://%s/system\n", "live-migration-uri", [5]),
    ("net.ini", "[DEFAULT]\ncore_plugin = ml2\n\n[ml2]\ntype_drivers = vxlan\n\n[database]\nmax_pool_size = 10\n",
     "neutron-db-pool", [8]),
    ("prom.yaml", "global: {scrape_interval: 15s}\nscrape_configs: []\n", "monitoring-retention-loss", None),
])
def test_our_own_files_for_every_rule(tmp_path: Path, name: str, text: str, entry: str,
                                      lines: list[int] | None) -> None:
    path = write(tmp_path, name, text)
    got = found([path], nodes=900)
    assert entry in got, got
    assert [(f, ln) for f, ln, _s in got[entry]] == [(name, lines)]


def test_a_correct_setting_is_not_a_finding(tmp_path: Path) -> None:
    fixed = NGINX.replace("5s", "10m")
    heat = "[DEFAULT]\nstack_user_domain_name = heat\nstack_domain_admin = heat_domain_admin\nconvergence_engine = " \
           "false\nrpc_response_timeout = 600\n\n[heat_api]\nworkers = 1\n\n[keystone_authtoken]\n" \
           "project_name = service\n"
    got = found([write(tmp_path, "nginx.conf", fixed), write(tmp_path, "heat.conf", heat)], nodes=900)
    assert "apiserver-reconnect-storm" not in got and "heat-api-slow-workers" not in got
    assert "heat-convergence-race" not in got and "heat-rpc-timeout" not in got and "heat-domain-missing" not in got


def test_a_scheduler_beside_its_apiserver_shares_its_host(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "scheduler-node").mkdir()
    write(tmp_path / "manifests", "api.yaml", APISERVER)
    write(tmp_path / "manifests", "sched.yaml", SCHEDULER)
    assert "scheduler-colocated-contention" in found([tmp_path / "manifests"], nodes=900)
    (tmp_path / "manifests" / "sched.yaml").rename(tmp_path / "scheduler-node" / "sched.yaml")
    assert "scheduler-colocated-contention" not in found([tmp_path], nodes=900)


def test_a_rule_with_a_size_in_it_says_where_it_starts_to_matter(tmp_path: Path) -> None:
    """Calico's own advice (the mesh up to ~100 nodes) is in its rule: below it, info."""
    path = write(tmp_path, "all.yml", "kube_network_plugin: calico\n")
    (entry,) = [f for f in audit([path]).findings if f.id == "calico-full-mesh"]
    assert entry.severity == "info" and "it matters from 101 nodes" in str(entry.evidence.value)
    assert found([path], nodes=900)["calico-full-mesh"][0][2] == "error"


KUBEDNS_RC = """apiVersion: v1
kind: ReplicationController
metadata: {name: kubedns}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: dnsmasq
        args: ["--cache-size=1000"]
"""


def test_size_dependent_findings_say_from_which_size_the_model_shows_harm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The onset table decides the severity by size: info below the model's onset, the rule's
    above it; an entry the model shows no harm for keeps its severity and says so."""
    table = {"kubedns-overload": Onset("kubedns-overload", (50, 900, 1800), (False, False, True),
                                       (False, False, True)),
             "apiserver-inflight-429": Onset("apiserver-inflight-429", (50, 1800), (False, False), (False, False))}
    monkeypatch.setattr(onsets, "table", lambda: table)
    dns = write(tmp_path, "kubedns-rc.yml", KUBEDNS_RC)
    (small,) = found([dns], nodes=900)["kubedns-overload"]
    assert small[2] == "info"
    (big,) = audit([dns], nodes=2000).findings
    assert big.severity == "error" and "the model shows harm from 1800 nodes" in str(big.evidence.value)
    api = write(tmp_path, "api.yaml", APISERVER)
    (inflight,) = audit([api], nodes=100).findings
    assert inflight.severity == "warning" and "no harm up to 1800 nodes" in str(inflight.evidence.value)


@pytest.mark.parametrize(("content", "why"), [
    (b"\x00\x01binary", "binary"),
    (b"key: \xff\xfe\n", "not UTF-8"),
    (b"a: &a [1]\n" + b"".join(b"b%d: &b%d [*a, *a]\n" % (i, i) for i in range(150)), "aliases"),
])
def test_hostile_files_are_unreadable_never_a_traceback(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    (read,) = read_file(path, "bad.yaml").files
    assert read.unreadable is not None and why.lower() in read.unreadable.lower()


@pytest.mark.parametrize("depth", [100, 20_000])
def test_deep_yaml_is_read_or_unreadable_never_a_crash(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.yaml"
    path.write_bytes(b"[" * depth + b"]" * depth)
    (read,) = read_file(path, "deep.yaml").files
    assert read.values_read == 0


def test_unknown_tags_are_unknown_values_not_guesses(tmp_path: Path) -> None:
    path = write(tmp_path, "all.yml", "kube_version: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n"
                                      "kube_network_plugin: calico\n")
    imported = read_file(path, "all.yml")
    assert "scheduler.generation" in imported.unknown and "scheduler.generation" not in imported.values


def test_cli_exit_codes_and_sarif(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(CORPUS / "broken"), "--format", "sarif"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["version"] == "2.1.0" and doc["runs"][0]["results"]
    assert runner.invoke(main, ["check", str(CORPUS / "fixed")]).exit_code == 0
    (tmp_path / "blob").write_bytes(b"\x00" * 10)
    bad = runner.invoke(main, ["check", str(tmp_path / "blob")])
    assert bad.exit_code == 2 and "nothing could be read" in bad.output
    assert runner.invoke(main, ["check", str(tmp_path / "missing")]).exit_code == 2


def test_sarif_carries_one_result_per_finding() -> None:
    findings = audit([CORPUS / "broken"]).findings
    doc = sarif(findings, "0")
    assert len(doc["runs"][0]["results"]) == len(findings)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_any_text_is_read_or_unreadable(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz"
    path.write_text(text, encoding="utf-8")
    imported = read_file(path, "fuzz")
    assert len(imported.files) >= 1


def test_import_writes_a_runnable_scenario_that_shows_what_check_found(tmp_path: Path) -> None:
    """Round trip: the broken corpus imported at 50 nodes and run; what the run detects, the
    static check found (the run shows fewer: a failing hop masks the next ones)."""
    from scalelab.runner import execute
    from scalelab.scenarios import load_scenario

    out = tmp_path / "lab.yaml"
    result = CliRunner().invoke(main, ["import", str(CORPUS / "broken"), "--nodes", "50", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "# node_proxy.proxy_timeout = '3s'  (kargo/rendered/etc/nginx/nginx.conf:20)" in text
    scenario = load_scenario(str(out))
    assert scenario.nodes == 50 and scenario.openstack.enabled
    detected = {f.id for f in execute(scenario).findings} - {"slo-api-mutating-latency", "slo-pod-startup"}
    static = {f.id for f in audit([CORPUS / "broken"], 50).findings}
    assert "apiserver-reconnect-storm" in detected and detected <= static


def test_nginx_includes_are_followed_inside_the_given_paths_and_loops_are_errors(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "conf.d").mkdir(parents=True)
    write(site, "nginx.conf", "events {}\nstream {\n  include conf.d/*.conf;\n}\n")
    write(site / "conf.d", "api.conf", "server {\n  listen 443;\n  proxy_pass api;\n  proxy_timeout 3s;\n}\n")
    got = found([site], nodes=900)
    assert got["apiserver-reconnect-storm"] == [("api.conf", [4], "error")]
    # the included file outside what was given is not read: the proxy's timeout is nginx's default
    alone = found([site / "nginx.conf"], nodes=900)
    assert "apiserver-reconnect-storm" not in alone
    write(site / "conf.d", "loop.conf", "include ../nginx.conf;\n")
    write(site, "nginx.conf", "events {}\nstream {\n  include conf.d/loop.conf;\n}\n")
    (read,) = read_file(site / "nginx.conf", "nginx.conf", site).files
    assert read.unreadable is not None and "include loop" in read.unreadable


@pytest.mark.parametrize(("inventory", "mesh"), [
    ("[kube-node]\nn1\nn2\n", True),
    ("[kube-node]\nn1\nn2\n\n[calico-rr]\nrr0\n", False),  # route reflectors turn the mesh off
])
def test_calico_mesh_is_decided_by_the_vars_and_the_inventory(tmp_path: Path, inventory: str, mesh: bool) -> None:
    write(tmp_path, "all.yml", "kube_network_plugin: calico\npeer_with_router: false\n")
    write(tmp_path, "hosts.ini", inventory)
    got = found([tmp_path], nodes=900)
    assert ("calico-full-mesh" in got) == mesh
    if mesh:
        assert got["calico-full-mesh"] == [("all.yml", [1, 2], "error")]


def test_a_file_over_50_mib_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.conf"
    with path.open("wb") as f:
        f.truncate(50 * 2**20 + 1)  # sparse: no 50 MiB written
    (read,) = read_file(path, "huge.conf").files
    assert read.unreadable is not None and "larger than 50 MiB" in read.unreadable


def test_a_49_mib_config_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    line = "  - {name: item, value: 12345}\n"
    path.write_text("items:\n" + line * ((49 * 2**20) // len(line)), encoding="utf-8")
    (read,) = read_file(path, "big.yaml").files
    assert read.unreadable is not None and "larger than 8 MiB" in read.unreadable


def test_fuel_ccp_includes_are_followed_inside_the_given_paths(tmp_path: Path) -> None:
    """ccp.yaml's ``!include`` list: a file under the given path is read once (a loop reads
    nothing twice), a missing one or one outside is listed as unreadable with the line."""
    (tmp_path / "deploy" / "more").mkdir(parents=True)
    write(tmp_path / "deploy", "ccp.yaml", "builder: {push: true}\n---\n!include\n- more/configs.yaml\n"
                                           "- missing.yaml\n- ../secret.yaml\n- ccp.yaml\n")
    write(tmp_path / "deploy" / "more", "configs.yaml", "configs:\n  memcached:\n    ram: 256\n")
    write(tmp_path, "secret.yaml", "configs:\n  memcached:\n    ram: 30720\n")
    report = audit([tmp_path / "deploy"])
    files = {f.path: f for f in report.files}
    assert files["ccp.yaml"].kind == "ccp-config" and files["more/configs.yaml"].values_read == 1
    assert "ccp.yaml:5: no such file" in str(files["missing.yaml"].unreadable)
    assert "outside the paths given" in str(files["../secret.yaml"].unreadable)
    assert [f.path for f in report.files].count("more/configs.yaml") == 1
    assert report.imported.values["openstack.memcached.memory"] == 256 * 2**20


def test_a_value_not_of_its_settings_form_is_unknown_with_file_line_and_why(tmp_path: Path) -> None:
    write(tmp_path, "heat.conf", "[DEFAULT]\nrpc_response_timeout = soon\n\n[heat_api]\nworkers = -3\n")
    doc = audit([tmp_path]).json()
    unknown = {u["path"]: u for u in doc["unknown"]}
    assert unknown["openstack.heat.rpc_response_timeout"]["line"] == 2
    assert "'soon'" in unknown["openstack.heat.rpc_response_timeout"]["why"]
    assert unknown["openstack.heat.api_workers"]["line"] == 5
    assert "heat-api-slow-workers" not in {f["id"] for f in doc["findings"]}
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 1 and "unknown openstack.heat.rpc_response_timeout" in result.output


@pytest.mark.parametrize(("pin", "mapped"), [("oslo.db===4.13.4", False), ("oslo.db===4.13.5", True),
                                             ("oslo.db==4.15.0", False), ("oslo-db===4.17.0", True)])
def test_the_oslo_db_release_decides_whether_pxc_deadlocks_are_retried(tmp_path: Path, pin: str,
                                                                       mapped: bool) -> None:
    """oslo.db maps PXC's wsrep deadlock from 4.13.5 (Newton backport) and 4.17.0, not in the
    Ocata pre-releases between; a constraints file (any name) says which one runs."""
    write(tmp_path, "pins", f"# upper constraints\nnova===14.0.2\n{pin}\noslo.config===3.17.1\n")
    write(tmp_path, "nova.conf", "[DEFAULT]\nhost = compute1\n\n[database]\nmax_pool_size = 5\n")
    report = audit([tmp_path])
    assert report.imported.values["openstack.galera.wsrep_deadlock_mapped"] is mapped
    pxc = [f for f in report.findings if f.id == "pxc-deadlock-not-retried"]
    assert pxc, "nova's undecorated paths stay: the finding remains"
    assert any(f.evidence.file == "pins" and f.evidence.lines == (3,) for f in pxc)
    assert ("oslo.db's wsrep deadlock mapping" in str(pxc[0].evidence.value)) is not mapped


def test_an_oslo_db_range_is_unknown_not_guessed(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "oslo.db>=4.10.0\nsix>=1.9\n")
    (u,) = audit([tmp_path]).json()["unknown"]
    assert u["path"] == "openstack.galera.wsrep_deadlock_mapped" and "range" in u["why"]


def test_the_labs_prometheus_files_give_the_monitoring_model_its_settings(tmp_path: Path) -> None:
    from scalelab.check.ccp import read_prometheus_deployment

    lab = CORPUS / "broken" / "performance-docs"
    deployment = read_prometheus_deployment(
        (lab / "prometheus-grafana-telegraf" / "docker_prometheus.yaml").read_text(), "docker_prometheus.yaml")
    assert deployment.values == {"monitoring.prometheus": True, "monitoring.retention": "168h0m0s",
                                 "monitoring.memory_chunks": 50502740, "monitoring.max_chunks_to_persist": 3024288}
    out = tmp_path / "lab.yaml"
    code = CliRunner().invoke(main, ["import", str(lab), "-o", str(out)])
    assert code.exit_code == 0, code.output
    assert "monitoring.node_scrape_interval = '30s'  (rendered/var/lib/prometheus/prometheus.yml:25)" in out.read_text()
    bad = read_prometheus_deployment("command: '-storage.local.memory-chunks=lots'", "p.yaml")
    assert "monitoring.memory_chunks" not in bad.values and "monitoring.memory_chunks" in bad.unknown
