"""Real Kubernetes YAML through the scheduler: semantics per plugin, eras, and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from scalelab.cli import main
from scalelab.components.scheduler.affinity import EXISTING_ANTI_AFFINITY
from scalelab.components.scheduler.framework import Framework
from scalelab.components.scheduler.plugins import DEFAULT_PROFILE, default_registry
from scalelab.components.scheduler.snapshot import expand, node_table
from scalelab.kube.loader import KubeYamlError, load_objects
from scalelab.kube.objects import Node

NODES = """
kind: List
items:
- {kind: Node, metadata: {name: a1, labels: {zone: a}}, status: {allocatable: {cpu: "4", memory: 8Gi}}}
- {kind: Node, metadata: {name: a2, labels: {zone: a}}, status: {allocatable: {cpu: "4", memory: 8Gi}}}
- {kind: Node, metadata: {name: b1, labels: {zone: b}}, status: {allocatable: {cpu: "4", memory: 8Gi}}}
- kind: Node
  metadata: {name: t1, labels: {zone: b}}
  spec: {taints: [{key: dedicated, value: db, effect: NoSchedule}]}
  status: {allocatable: {cpu: "4", memory: 8Gi}}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _place(tmp_path: Path, pods: str, generation: str = "modern") -> dict[str, str | None]:
    nodes = [o for o in load_objects(_write(tmp_path, "n.yaml", NODES)) if isinstance(o, Node)]
    table = node_table(nodes)
    fw = Framework(default_registry(), *DEFAULT_PROFILE)
    out: dict[str, str | None] = {}
    for spec in expand(load_objects(_write(tmp_path, "p.yaml", pods)), generation, table.names):
        d = fw.schedule(spec.pod, table, only=table.names.index(spec.node) if spec.node else None)
        if d.node is not None:
            table.add_pod(d.node, spec.pod)
        out[spec.key] = None if d.node is None else table.names[d.node]
    return out


def _deployment(name: str, replicas: int, labels: str, affinity: str = "", tolerations: str = "",
                ns: str = "default", annotations: str = "") -> str:
    return f"""
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {labels}{annotations}}}
    spec:
      {affinity}
      {tolerations}
      containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]
---
"""


ANTI_HOST = ("affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
             "[{labelSelector: {matchLabels: {app: x}}, topologyKey: kubernetes.io/hostname}]}}")


def test_required_anti_affinity_one_per_host_and_taint_respected(tmp_path: Path) -> None:
    out = _place(tmp_path, _deployment("x", 4, "{app: x}", ANTI_HOST))
    placed = [n for n in out.values() if n]
    assert sorted(placed) == ["a1", "a2", "b1"] and out["default/x-3"] is None


def test_toleration_opens_the_tainted_node(tmp_path: Path) -> None:
    tol = "tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]"
    out = _place(tmp_path, _deployment("x", 4, "{app: x}", ANTI_HOST, tol))
    assert sorted(n for n in out.values() if n) == ["a1", "a2", "b1", "t1"]


def test_zone_affinity_first_pod_anywhere_then_follows(tmp_path: Path) -> None:
    aff = ("affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
           "[{labelSelector: {matchLabels: {app: y}}, topologyKey: zone}]}}")
    out = _place(tmp_path, _deployment("y", 3, "{app: y}", aff))
    zones = {"a1": "a", "a2": "a", "b1": "b", "t1": "b"}
    assert len({zones[n] for n in out.values() if n}) == 1
    assert all(out.values())


def test_node_affinity_and_selector(tmp_path: Path) -> None:
    aff = ("affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
           "[{matchExpressions: [{key: zone, operator: In, values: [b]}]}]}}}")
    out = _place(tmp_path, _deployment("z", 2, "{app: z}", aff))
    assert set(out.values()) == {"b1"}


def test_namespaces_empty_list_differs_by_era(tmp_path: Path) -> None:
    # an existing "db" pod in namespace other; the new pod avoids app=db with namespaces: []
    existing = _deployment("db", 3, "{app: db}", ns="other")
    anti = ("affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
            "[{labelSelector: {matchLabels: {app: db}}, namespaces: [], topologyKey: kubernetes.io/hostname}]}}")
    modern = _place(tmp_path, existing + _deployment("w", 1, "{app: w}", anti))
    assert modern["default/w-0"] is not None  # modern: [] = own namespace, no db pods there
    # 1.5 reads affinity from the alpha annotation, where [] means every namespace
    ann = (', annotations: {scheduler.alpha.kubernetes.io/affinity: \'{"podAntiAffinity": '
           '{"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": '
           '{"app": "db"}}, "namespaces": [], "topologyKey": "kubernetes.io/hostname"}]}}\'}')
    old = _place(tmp_path, existing + _deployment("w", 1, "{app: w}", annotations=ann), generation="1.5")
    assert old["default/w-0"] is None  # the three db pods fill a1, a2, b1; t1 is tainted


def test_generation_reads_fields_or_annotations(tmp_path: Path) -> None:
    out15 = _place(tmp_path, _deployment("x", 4, "{app: x}", ANTI_HOST), generation="1.5")
    assert all(out15.values())  # 1.5 ignores the (not yet existing) affinity field
    out = _place(tmp_path, _deployment("x", 4, "{app: x}", ANTI_HOST), generation="modern")
    assert out["default/x-3"] is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p", "q", "r"]), st.integers(1, 5)), min_size=1, max_size=6))
def test_no_placement_violates_required_anti_affinity(tmp_path_factory: pytest.TempPathFactory,
                                                      groups: list[tuple[str, int]]) -> None:
    tmp = tmp_path_factory.mktemp("anti")
    docs = "".join(_deployment(f"{g}{i}", n, f"{{app: {g}}}", ANTI_HOST.replace("app: x", f"app: {g}"))
                   for i, (g, n) in enumerate(groups))
    out = _place(tmp, docs)
    per_node_app = Counter((node, key.split("/")[1][0]) for key, node in out.items() if node)
    assert all(count == 1 for count in per_node_app.values())


def test_bad_yaml_names_file_document_and_path(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", "kind: Node\nmetadata: {name: a}\n---\nkind: Widget\n---\n"
                 "kind: Pod\nmetadata: {name: p}\nspec: {affinity: {podAntiAffinity: "
                 "{requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchExpressions: "
                 "[{key: a, operator: Near}]}}]}}}\n")
    with pytest.raises(KubeYamlError) as info:
        load_objects(bad)
    msg = str(info.value)
    assert msg.startswith(str(bad)) and "Widget" not in msg  # a kind the scheduler does not place: skipped
    assert "document 3 (line 6): spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution.0" in msg
    assert "operator" in msg
    typo = _write(tmp_path, "typo.yaml", "kind: Deploymnt\nmetadata: {name: d}\n")
    with pytest.raises(KubeYamlError, match=r"document 1 \(line 1\): kind: unknown kind 'Deploymnt' \(did you mean"):
        load_objects(typo)


def test_schedule_cli_json_and_exit_codes(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "n.yaml", NODES)
    pods = _write(tmp_path, "p.yaml", _deployment("x", 4, "{app: x}", ANTI_HOST))
    result = CliRunner().invoke(main, ["schedule", "--nodes", str(nodes), "--pods", str(pods), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert set(doc) == {"placements", "unschedulable", "sim_seconds_per_pod"}
    assert list(doc["placements"]) == [f"default/x-{i}" for i in range(4)]
    assert doc["unschedulable"]["default/x-3"] == {EXISTING_ANTI_AFFINITY: 3, "node(s) had untolerated taint(s)": 1}
    ok = _write(tmp_path, "ok.yaml", _deployment("x", 2, "{app: x}", ANTI_HOST))
    result = CliRunner().invoke(main, ["schedule", "--nodes", str(nodes), "--pods", str(ok)])
    assert result.exit_code == 0
    bad = _write(tmp_path, "bad.yaml", "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{resources: "
                 "{requests: {cpu: lots}}}]}\n")
    result = CliRunner().invoke(main, ["schedule", "--nodes", str(nodes), "--pods", str(bad)])
    assert result.exit_code == 2 and "document 1 (line 1): spec.containers.0.resources.requests.cpu" in result.stderr


def test_ordinary_manifests_lists_and_notes(tmp_path: Path) -> None:
    nodes = _write(tmp_path, "n.yaml", "kind: NodeList\nitems:\n" + "".join(
        f"- kind: Node\n  metadata: {{name: n{i}}}\n  status: {{allocatable: {{cpu: 4, memory: 8Gi}}}}\n"
        for i in range(2)))
    pods = _write(tmp_path, "app.yaml", "kind: Service\nmetadata: {name: web}\n---\nkind: ConfigMap\n"
                  "metadata: {name: cfg}\n---\n" + _deployment("web", 2, "{app: web}", ANTI_HOST))
    result = CliRunner().invoke(main, ["schedule", "--nodes", str(nodes), "--pods", str(pods), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert set(json.loads(result.stdout)["placements"].values()) == {"n0", "n1"}
    notes = [line for line in result.stderr.splitlines() if line.startswith("scalelab: note:")]
    assert any("document 1 (line 1): skipped Service" in n for n in notes)
    assert any("document 2 (line 4): skipped ConfigMap" in n for n in notes)
    old = CliRunner().invoke(main, ["schedule", "--nodes", str(nodes), "--pods", str(pods), "--generation", "1.5"])
    assert "spec.affinity is ignored by the 1.5 scheduler, which reads the annotation " \
           "scheduler.alpha.kubernetes.io/affinity" in old.stderr
