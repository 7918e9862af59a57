"""Hypothesis fuzzes each importer with files of its own format and values of any form
(issue: ``scalelab check``): every file is read or unreadable, every value the spec refuses is
listed as unknown with its file, line and why, and the audit never crashes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalelab.check.audit import audit

#: a value as a file may hold it: numbers (negative, huge), durations, booleans, templates, junk
VALUES = st.one_of(
    st.integers(min_value=-10**12, max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["3s", "10m", "1h30m", "0", "true", "False", "{{ x }}", "{% if a %}", "-1", "1e400", "",
                     "internalURL", "publicURL", "100m", "170Mi", "2Gi", "abc", "0x10"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
TOKEN = VALUES.filter(lambda v: v and all(c not in v for c in " ;{}#\"'\\\n\t$"))
YAML_VALUE = VALUES.map(lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def checked(name: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        report = audit([Path(tmp)], nodes=900)
    assert report.files, "every file is listed"
    doc = report.json()
    for unknown in doc["unknown"]:
        assert unknown["file"] == name and unknown["why"]
    for finding in doc["findings"]:
        assert finding["evidence"]["file"] == name


@FUZZ
@given(TOKEN)
def test_nginx(timeout: str) -> None:
    server = f"server {{ listen 127.0.0.1:443; proxy_pass kube_apiserver; proxy_timeout {timeout}; }}"
    upstream = "upstream kube_apiserver { server 10.0.0.1:443; }"
    checked("nginx.conf", f"events {{}}\nstream {{\n  {upstream}\n  {server}\n}}\n")


@FUZZ
@given(st.dictionaries(st.sampled_from(["stack_user_domain_name", "convergence_engine", "rpc_response_timeout",
                                        "num_engine_workers", "heat_metadata_server_url"]), VALUES.map(
                           lambda v: v.replace("\n", " ").replace("%", "%%")), max_size=5),
       VALUES.map(lambda v: v.replace("\n", " ")))
def test_oslo(defaults: dict[str, str], workers: str) -> None:
    body = "".join(f"{k} = {v}\n" for k, v in defaults.items())
    checked("heat.conf", f"[DEFAULT]\n{body}\n[heat_api]\nworkers = {workers}\n\n[clients_heat]\n"
                         f"endpoint_type = {workers}\n")


@FUZZ
@given(YAML_VALUE, YAML_VALUE, YAML_VALUE, YAML_VALUE)
def test_kubernetes_manifests(inflight: str, replicas: str, forward: str, cpu: str) -> None:
    checked("manifests.yaml", f"""apiVersion: v1
kind: Pod
metadata: {{name: kube-apiserver}}
spec:
  containers:
  - name: kube-apiserver
    image: quay.io/coreos/hyperkube:v1.5.1_coreos.0
    command: ["/hyperkube", "apiserver", {'"--max-requests-inflight=' + inflight[1:]}]
---
apiVersion: v1
kind: ReplicationController
metadata: {{name: kubedns}}
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
      - name: kubedns
        resources: {{limits: {{cpu: {cpu}}}}}
      - name: dnsmasq
        args: [{'"--dns-forward-max=' + forward[1:]}]
        resources: {{limits: {{cpu: {cpu}}}}}
""")


@FUZZ
@given(st.lists(st.sampled_from(["kube-master", "kube-node", "calico-rr", "etcd", "k8s-cluster:children", "all"]),
                max_size=4),
       st.lists(st.from_regex(r"node[0-9]{1,3}", fullmatch=True), max_size=6), YAML_VALUE, YAML_VALUE)
def test_ansible_inventory_and_group_vars(groups: list[str], hosts: list[str], version: str, peer: str) -> None:
    inventory = "".join(f"[{g}]\n" + "".join(f"{h}\n" for h in hosts) for g in groups)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "inventory.ini").write_text(inventory, encoding="utf-8")
        (Path(tmp) / "all.yml").write_text(f"kube_version: {version}\nkube_network_plugin: calico\n"
                                           f"peer_with_router: {peer}\n", encoding="utf-8")
        report = audit([Path(tmp)])
    assert {f.path for f in report.files} == {"inventory.ini", "all.yml"}


@FUZZ
@given(YAML_VALUE, YAML_VALUE, YAML_VALUE, st.lists(st.sampled_from(["heat-api", "heat-engine", "heat-api-cfn",
                                                                    "nova-api", "x"]), max_size=4))
def test_fuel_ccp_configs_and_topology(ram: str, port: str, ip: str, services: list[str]) -> None:
    checked("configs.yaml", f"configs:\n  memcached:\n    ram: {ram}\n  k8s_external_ip: {ip}\n"
                            f"  heat:\n    api_port:\n      node: {port}\n")
    checked("topology.yaml", "roles:\n  controller:\n" + "".join(f"    - {s}\n" for s in services)
            + ("    []\n" if not services else ""))


@FUZZ
@given(st.booleans(), YAML_VALUE)
def test_prometheus(remote: bool, url: str) -> None:
    checked("prometheus.yml", "scrape_configs: []\n" + (f"remote_write:\n  - url: {url}\n" if remote else ""))


@FUZZ
@given(st.sampled_from(["===", "==", ">=", "~=", "<"]), TOKEN, st.lists(TOKEN, max_size=3))
def test_pip_constraints(op: str, version: str, others: list[str]) -> None:
    checked("upper-constraints.txt", f"oslo.db{op}{version}\n" + "".join(f"pkg{i}==={v}\n"
                                                                         for i, v in enumerate(others)))
