"""``reproduce``'s verdict from two runs: reproduced only when the detector fires on broken,
stays silent on fixed and every band holds; otherwise a gap that says which and why."""

from __future__ import annotations

from typing import Any

from scalelab.catalogue.entry import Band, Entry, Reproduction, RunView, metric_detector
from scalelab.catalogue.registry import ENTRIES
from scalelab.reproduce import evaluate, not_modelled
from scalelab.results import Measurements, RunRecord, Window
from scalelab.scenarios import load_scenario


def _record(run_id: str, summary: dict[str, float | None]) -> RunRecord:
    return RunRecord(run_id=run_id, scenario="x", profile="k8s-1.5", seed=1, scenario_hash="h", document={},
                     started="", sim_seconds=1.0, wall_seconds=0.0, events=0, summary=summary,
                     measurements=Measurements(sample_every=10.0), window=Window())


def _entry(bands: tuple[Band, ...]) -> Entry:
    entry: Entry

    def explain(broken: RunView, fixed: RunView) -> str:
        return f"because {broken.spec.node_proxy.proxy_timeout:g} s"

    entry = Entry(id="t", title="T", layer="kubernetes", symptoms="", cause="", fix_text="fix it",
                  patch={"node_proxy.proxy_timeout": "10m"}, broken={"node_proxy.proxy_timeout": "3s"},
                  detect=metric_detector("symptom", 1.0, lambda: entry), reproduction=Reproduction(),
                  bands=bands, explain=explain)
    return entry


BANDS = (Band("broken", "symptom", 5.0, 10.0, "measured", "report"),
         Band("fixed", "symptom", None, 0.0, "expected", "report"))
SCENARIOS = (load_scenario("campaign-900"), load_scenario("campaign-900-fixed"))


def _evaluate(broken: float, fixed: float, bands: tuple[Band, ...] = BANDS) -> dict[str, Any]:
    return evaluate(_entry(bands), _record("b", {"symptom": broken}), _record("f", {"symptom": fixed}),
                    {"node_proxy.proxy_timeout": 3.0}, SCENARIOS)


def test_reproduced_when_detected_on_broken_silent_on_fixed_and_bands_hold() -> None:
    doc = _evaluate(7.0, 0.0)
    assert doc["status"] == "reproduced" and doc["passed"] and doc["gap"] is None
    assert doc["runs"]["broken"]["detected"] and not doc["runs"]["fixed"]["detected"]
    assert doc["runs"]["broken"]["diff"] == {"node_proxy.proxy_timeout": 3.0}
    assert [b["ok"] for b in doc["bands"]] == [True, True]


def test_a_missed_band_is_a_gap_naming_it_with_the_explanation() -> None:
    doc = _evaluate(2.0, 0.0)
    assert doc["status"] == "gap" and not doc["passed"]
    assert "broken symptom = 2.0 outside [5.0, 10.0]" in doc["gap"]
    assert doc["gap"].endswith("because 3 s")  # the explainer read the broken run's scenario


def test_a_detector_firing_on_fixed_is_a_gap() -> None:
    doc = _evaluate(7.0, 3.0)
    assert doc["status"] == "gap"
    assert doc["gap"].startswith("detector fires on fixed")


def test_a_silent_detector_on_broken_is_a_gap_even_if_no_band_exists() -> None:
    doc = _evaluate(0.0, 0.0, bands=())
    assert doc["status"] == "gap" and doc["gap"].startswith("detector silent on broken")


def test_an_entry_without_a_model_is_not_modelled_with_its_reason() -> None:
    entry = ENTRIES["heat-domain-missing"]
    doc = not_modelled(entry)
    assert doc["status"] == "not_modelled" and doc["runs"] == {"broken": None, "fixed": None}
    assert doc["gap"] == (entry.not_modelled_reason or None)


def test_an_intermediate_run_is_reported_and_its_bands_checked() -> None:
    """A third run (the report's partial fix) appears under ``runs`` with its diff from
    fixed, and a band on it is checked like the others."""
    entry = _entry((Band("intermediate", "symptom", 1.0, None, "measured", "partial fix still fails"),))
    broken, fixed = _record("b", {"symptom": 3.0}), _record("f", {"symptom": 0.0})
    middle = _record("m", {"symptom": 0.0})
    doc = evaluate(entry, broken, fixed, {}, intermediate=(middle, {"node_proxy.proxy_timeout": 5.0}))
    assert doc["runs"]["intermediate"]["diff"] == {"node_proxy.proxy_timeout": 5.0}
    assert doc["status"] == "gap" and "intermediate symptom = 0.0" in doc["gap"]
    doc = evaluate(entry, broken, fixed, {}, intermediate=(_record("m", {"symptom": 2.0}), {}))
    assert doc["status"] == "reproduced"
    assert evaluate(entry, broken, fixed, {})["status"] == "gap"  # its band names a run that did not run


def test_pxc_deadlocks_reproduce_in_three_runs() -> None:
    """Broken fails on deadlocks; with oslo.db's mapping alone the undecorated nova paths
    still fail; mapping + retries on every path leave none."""
    from scalelab.reproduce import reproduce

    (doc,) = reproduce(["pxc-deadlock-not-retried"], jobs=2)
    failures = {run: doc["runs"][run]["summary"]["db_deadlock_failures_total"]
                for run in ("broken", "intermediate", "fixed")}
    assert failures["broken"] > failures["intermediate"] > failures["fixed"] == 0
    assert doc["runs"]["intermediate"]["diff"] == {"openstack.nova.retry_undecorated_paths": False}
    assert doc["status"] == "reproduced"


def test_a_renamed_scenario_runs_the_same_and_its_record_can_be_derived() -> None:
    """The simulation never reads a scenario's name: a renamed scenario's run is the same run,
    and ``record_as`` makes its record from the first one's without running it."""
    from conftest import small
    from scalelab.runner import execute, record_as, same_run_key

    first = small(worker_hosts=2, steady="1m")
    second = first.model_copy(update={"name": "another-name"})
    assert same_run_key(first) == same_run_key(second)
    ran, derived = execute(second), record_as(execute(first), second)
    assert (derived.run_id, derived.scenario, derived.scenario_hash) == (ran.run_id, ran.scenario, ran.scenario_hash)
    assert derived.summary == ran.summary and derived.events == ran.events
    assert derived.document == ran.document and derived.inputs == ran.inputs
    assert derived.findings == ran.findings


def test_reproduce_runs_once_a_scenario_two_entries_share(monkeypatch: Any) -> None:
    """One entry's fixed state is the next one's broken state: run once, recorded under both."""
    from conftest import small
    from scalelab import reproduce as module

    base = small(worker_hosts=2, steady="1m")
    shared = base.model_copy(update={"node_proxy": base.node_proxy.model_copy(update={"proxy_timeout": 600.0})})
    last = base.model_copy(update={"seed": 7})
    named = {"apiserver-reconnect-storm": (base, shared), "kubedns-overload": (shared, last)}

    def scenarios_for(entry: Entry) -> tuple[Any, Any]:
        broken, fixed = named[entry.id]
        return (broken.model_copy(update={"name": f"{entry.id}:broken"}),
                fixed.model_copy(update={"name": f"{entry.id}:fixed"}))

    from scalelab.runner import execute as real_execute

    ran: list[str] = []

    def execute(scenario: Any) -> RunRecord:
        ran.append(scenario.name)
        return real_execute(scenario)

    monkeypatch.setattr(module, "scenarios_for", scenarios_for)
    monkeypatch.setattr(module, "intermediate_for", lambda _entry, _fixed: None)
    monkeypatch.setattr(module, "execute", execute)
    stored: list[RunRecord] = []
    docs = module.reproduce(list(named), jobs=1, on_record=stored.append)
    assert len(ran) == 3 and len(stored) == 4
    assert sorted(r.scenario for r in stored) == sorted(f"{e}:{w}" for e in named for w in ("broken", "fixed"))
    assert len({r.run_id for r in stored}) == 4
    by_name = {r.scenario: r for r in stored}
    assert by_name["apiserver-reconnect-storm:fixed"].summary == by_name["kubedns-overload:broken"].summary
    assert [d["id"] for d in docs] == list(named)
