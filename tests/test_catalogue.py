"""The catalogue: every id of CATALOGUE.md, rules and detectors that fire and stay silent."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import small
from scalelab.catalogue import apiserver_reconnect
from scalelab.catalogue.entry import RunView
from scalelab.catalogue.registry import ENTRIES, all_fixes
from scalelab.reproduce import diff, scenarios_for
from scalelab.scenarios import load_scenario
from scalelab.spec.loader import apply_patch

CATALOGUE_MD = Path(__file__).resolve().parents[1].parent / "shared" / "CATALOGUE.md"


def test_every_catalogue_id_is_an_entry() -> None:
    ids = set(re.findall(r"^\| `([a-z0-9-]+)` \|", CATALOGUE_MD.read_text(), flags=re.M))
    assert ids == set(ENTRIES)


def test_storm_rule_fires_on_report_settings_and_not_on_fix() -> None:
    broken = load_scenario("campaign-900")
    finding = apiserver_reconnect.rule(broken)
    assert finding is not None and finding.severity == "error"
    assert apiserver_reconnect.rule(load_scenario("campaign-900-fixed")) is None
    middle = apply_patch(broken, {"node_proxy.proxy_timeout": "2m"})
    assert apiserver_reconnect.rule(middle).severity == "warning"  # type: ignore[union-attr]


def test_storm_detector() -> None:
    assert apiserver_reconnect.detect(RunView({"nodes": 900.0, "node_proxy_reconnects_per_second": 270.0}, {}))
    assert apiserver_reconnect.detect(RunView({"nodes": 900.0, "node_proxy_reconnects_per_second": 0.0}, {})) is None
    assert apiserver_reconnect.detect(RunView({"nodes": 900.0}, {})) is None


def test_reproduction_broken_differs_only_by_the_entry_setting() -> None:
    broken, fixed = scenarios_for(ENTRIES["apiserver-reconnect-storm"])
    assert diff(fixed, broken) == {"node_proxy.proxy_timeout": 3.0}
    assert [p.kind for p in fixed.workload] == ["steady"]


def test_fixes_do_not_contradict() -> None:
    fixes = all_fixes()
    assert fixes["node_proxy.proxy_timeout"] == "10m"
    for entry in ENTRIES.values():
        if entry.patch is not None:
            assert entry.broken is not None and set(entry.broken) == set(entry.patch), entry.id


def test_inflight_and_expiry_rules_and_detectors() -> None:
    from scalelab.catalogue import apiserver_inflight as ai

    broken, fixed = load_scenario("campaign-900"), load_scenario("campaign-900-fixed")
    assert ai.inflight_rule(broken) is not None and ai.inflight_rule(fixed) is None
    assert ai.expiry_rule(broken) is not None and ai.expiry_rule(fixed) is None
    assert ai.inflight_detect(RunView({"api_429_share": 0.02}, {})) is not None
    assert ai.inflight_detect(RunView({"api_429_share": 0.0}, {})) is None
    assert ai.expiry_detect(RunView({"antiaffinity_violations": 3.0}, {})) is not None
    assert ai.expiry_detect(RunView({"antiaffinity_violations": 0.0}, {})) is None


def test_every_modelled_reproduction_differs_only_by_its_setting() -> None:
    for entry in ENTRIES.values():
        if entry.modelled:
            broken, fixed = scenarios_for(entry)
            changed = diff(fixed, broken)
            assert set(changed) == set(entry.broken or {}), entry.id


def test_calico_sessions_and_rule() -> None:
    from scalelab.catalogue.calico_mesh import rule as calico_mesh_rule
    from scalelab.runner import execute

    assert calico_mesh_rule(load_scenario("campaign-900")) is not None
    assert calico_mesh_rule(load_scenario("campaign-900-fixed")) is None
    mesh = execute(small(steady="30s", worker_hosts=4)).summary
    assert mesh["bgp_sessions_total"] == 20 * 19 / 2 and mesh["bgp_sessions_per_node_max"] == 19
    rr = execute(small(steady="30s", worker_hosts=4,
                       extra={"calico.mode": "route_reflectors", "calico.route_reflectors": 2})).summary
    assert rr["bgp_sessions_total"] == 20 * 2 + 1 and rr["bgp_sessions_per_node_max"] == 2
    killed = execute(small(steady="30s", worker_hosts=4,
                           extra={"faults": [{"kind": "kill_node", "target": 0, "at": "5s"}]})).summary
    assert killed["bgp_sessions_total"] == 19 * 18 / 2


def test_kubedns_rule_and_detector() -> None:
    from scalelab.catalogue import kubedns

    finding = kubedns.rule(load_scenario("campaign-900"))
    assert finding is not None and finding.severity == "error"
    assert kubedns.rule(load_scenario("campaign-900-fixed")) is None
    assert kubedns.detect(RunView({"dns_refused_total": 12.0}, {})) is not None
    assert kubedns.detect(RunView({"dns_refused_total": 0.0}, {})) is None
