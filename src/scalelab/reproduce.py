"""``scalelab reproduce``: an entry's broken and fixed runs side by side, bands checked.

Baseline (*fixed*) = the entry's baseline scenario (``campaign-900-fixed``) with the entry's
``context`` applied; *broken* = the same with only the entry's broken setting. Status:
``reproduced`` when the detector fires on broken, stays silent on fixed and every band
holds; ``gap`` when the runs work but a band or the detector misses (``gap`` says which);
``unresolved`` when the report has no fix; ``not_modelled`` for data-only entries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from scalelab.catalogue.entry import Entry, RunView
from scalelab.catalogue.registry import get
from scalelab.runner import RunRecord, execute, record_as, same_run_key
from scalelab.scenarios import apply_patch, load_scenario
from scalelab.spec.loader import scenario_document
from scalelab.spec.model import Scenario


def _flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(doc, list):
        out = {}
        for i, v in enumerate(doc):
            out.update(_flatten(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: doc}


def diff(base: Scenario, other: Scenario) -> dict[str, Any]:
    """Dotted paths whose values differ (name excluded), with ``other``'s values."""
    a = _flatten(scenario_document(base))
    b = _flatten(scenario_document(other))
    return {k: b.get(k) for k in sorted(set(a) | set(b)) if k != "name" and a.get(k) != b.get(k)}


def scenarios_for(entry: Entry) -> tuple[Scenario, Scenario]:
    """(broken, fixed) scenarios of an entry's reproduction (for an unresolved entry, *fixed*
    is the baseline with the context: it is not run)."""
    assert entry.reproduction is not None
    base = load_scenario(entry.reproduction.baseline)
    fixed = apply_patch(base, dict(entry.reproduction.context), source=f"{entry.id} context")
    fixed = fixed.model_copy(update={"name": f"{entry.id}:fixed"})
    broken = apply_patch(fixed, dict(entry.broken or {}), source=f"{entry.id} broken")
    broken = broken.model_copy(update={"name": f"{entry.id}:broken"})
    return broken, fixed


def intermediate_for(entry: Entry, fixed: Scenario) -> Scenario | None:
    """The entry's third run (the report's partial fix), when it has one."""
    assert entry.reproduction is not None
    if entry.reproduction.intermediate is None:
        return None
    middle = apply_patch(fixed, dict(entry.reproduction.intermediate), source=f"{entry.id} intermediate")
    return middle.model_copy(update={"name": f"{entry.id}:intermediate"})


def _run_json(rec: RunRecord, detected: bool, changes: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": rec.run_id, "detected": detected, "summary": rec.summary, "diff": dict(changes)}


def _bands(entry: Entry, records: Mapping[str, RunRecord]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each band checked on its run's summary, and what missed."""
    bands: list[dict[str, Any]] = []
    misses: list[str] = []
    for band in entry.bands:
        rec = records.get(band.run)
        if rec is None:
            misses.append(f"band on the {band.run} run, which did not run")
            continue
        value = rec.summary.get(band.metric)
        ok = band.holds(value)
        bands.append({"run": band.run, "metric": band.metric, "low": band.low, "high": band.high,
                      "value": value, "ok": ok, "source": f"{band.source}: {band.note}"})
        if not ok:
            misses.append(f"{band.run} {band.metric} = {value} outside [{band.low}, {band.high}]")
    return bands, misses


def evaluate(entry: Entry, broken: RunRecord, fixed: RunRecord, broken_diff: Mapping[str, Any],
             scenarios: tuple[Scenario, Scenario] | None = None,
             intermediate: tuple[RunRecord, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The CONTRACTS.md ``reproduce`` document from the two runs (``scenarios``: what the
    broken and fixed runs simulated, for the explanation of a gap; ``intermediate``: the third
    run and its diff from *fixed*, for an entry that has one)."""
    assert entry.detect is not None and entry.reproduction is not None
    broken_sc, fixed_sc = scenarios if scenarios is not None else (None, None)
    broken_view = RunView(broken.summary, broken.counters, broken_sc)
    fixed_view = RunView(fixed.summary, fixed.counters, fixed_sc)
    detected_broken = entry.detect(broken_view) is not None
    detected_fixed = entry.detect(fixed_view) is not None
    records = {"broken": broken, "fixed": fixed}
    if intermediate is not None:
        records["intermediate"] = intermediate[0]
    bands, misses = _bands(entry, records)
    if not detected_broken:
        misses.insert(0, "detector silent on broken")
    if detected_fixed:
        misses.insert(0, "detector fires on fixed")
    status = "reproduced" if not misses else "gap"
    if misses and entry.explain is not None and scenarios is not None:
        misses.append(entry.explain(broken_view, fixed_view))
    runs = {"broken": _run_json(broken, detected_broken, broken_diff),
            "fixed": _run_json(fixed, detected_fixed, {})}
    if intermediate is not None:
        middle, middle_diff = intermediate
        runs["intermediate"] = _run_json(middle, entry.detect(RunView(middle.summary, middle.counters)) is not None,
                                         middle_diff)
    return {
        "id": entry.id, "status": status, "passed": status == "reproduced",
        "context": dict(entry.reproduction.context),
        "runs": runs,
        "bands": bands,
        "gap": "; ".join(misses) if misses else None,
    }


def evaluate_unresolved(entry: Entry, broken: RunRecord, broken_diff: Mapping[str, Any],
                        scenario: Scenario | None = None) -> dict[str, Any]:
    """An entry the report left without a fix: its one run, the detector and the broken bands;
    ``gap`` names what did not show."""
    assert entry.detect is not None and entry.reproduction is not None
    detected = entry.detect(RunView(broken.summary, broken.counters, scenario)) is not None
    bands, misses = _bands(entry, {"broken": broken})
    if not detected:
        misses.insert(0, "detector silent")
    return {"id": entry.id, "status": "unresolved", "passed": False, "context": dict(entry.reproduction.context),
            "runs": {"broken": _run_json(broken, detected, broken_diff), "fixed": None}, "bands": bands,
            "gap": "; ".join(misses) if misses else None}


def not_modelled(entry: Entry) -> dict[str, Any]:
    return {"id": entry.id, "status": "not_modelled", "passed": False, "context": {},
            "runs": {"broken": None, "fixed": None}, "bands": [],
            "gap": entry.not_modelled_reason or None}


def reproduce(entry_ids: list[str], jobs: int = 2, on_record: Callable[[RunRecord], None] | None = None,
              ) -> list[dict[str, Any]]:
    """Reproduce entries; every run record goes to ``on_record`` (the CLI stores it)."""
    entries = [get(i) for i in entry_ids]
    plans: list[tuple[Entry, list[Scenario], dict[str, Any]]] = []
    for entry in entries:
        if entry.unresolved:
            broken, fixed = scenarios_for(entry)
            plans.append((entry, [broken], diff(fixed, broken)))
        elif entry.modelled:
            broken, fixed = scenarios_for(entry)
            middle = intermediate_for(entry, fixed)
            plans.append((entry, [broken, fixed] + ([middle] if middle is not None else []), diff(fixed, broken)))
    # the longest runs first, so that the pool's workers finish together
    work = sorted((s for _e, runs, _d in plans for s in runs), key=_expected_cost, reverse=True)
    # One entry's fixed state is often the next one's broken state (the report fixed one thing
    # at a time): scenarios that differ only by name run once, each keeps its own record.
    keys = [same_run_key(s) for s in work]
    first: dict[str, Scenario] = {}
    for s, key in zip(work, keys, strict=True):
        first.setdefault(key, s)
    distinct = list(first.values())
    if jobs > 1 and len(distinct) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(distinct))) as pool:
            ran = list(pool.map(execute, distinct))
    else:
        ran = [execute(s) for s in distinct]
    by_key = dict(zip(first, ran, strict=True))
    done = [by_key[key] if first[key] is s else record_as(by_key[key], s) for s, key in zip(work, keys, strict=True)]
    if on_record is not None:
        for rec in done:
            on_record(rec)
    records = {s.name: rec for s, rec in zip(work, done, strict=True)}
    by_entry: dict[str, dict[str, Any]] = {}
    for entry, runs, changes in plans:
        if entry.unresolved:
            by_entry[entry.id] = evaluate_unresolved(entry, records[runs[0].name], changes, runs[0])
            continue
        broken, fixed = runs[0], runs[1]
        third = (records[runs[2].name], diff(fixed, runs[2])) if len(runs) > 2 else None
        by_entry[entry.id] = evaluate(entry, records[broken.name], records[fixed.name], changes, (broken, fixed),
                                      third)
    return [by_entry.get(e.id) or not_modelled(e) for e in entries]


def _expected_cost(scenario: Scenario) -> float:
    """A rough size of a run, to start the big ones first: its nodes."""
    return float(scenario.nodes)
