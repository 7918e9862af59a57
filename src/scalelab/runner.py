"""One run, end to end: scenario -> simulation -> results -> summary and findings -> a record.

The ``RunRecord`` (``results``) is plain data, picklable, so pool workers return it to the
parent, which alone writes the store. ``run_id`` hashes scenario, seed and version: the same
inputs give the same id and, but for ``wall_seconds``, byte-identical JSON.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from scalelab import __version__
from scalelab.assess import assess, detect_all
from scalelab.results import RunInputs, RunRecord, dumps
from scalelab.simulation import Simulation
from scalelab.spec.loader import scenario_document, scenario_hash
from scalelab.spec.model import Scenario


def run_id_for(scenario: Scenario) -> str:
    blob = f"{scenario_hash(scenario)}:{scenario.seed}:{__version__}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def inputs_for(scenario: Scenario, file: str | None = None, overrides: dict[str, Any] | None = None,
               argv: tuple[str, ...] = ()) -> RunInputs:
    """The inputs a run records (a scenario run without a command line: no file, no overrides)."""
    return RunInputs(scenario_document(scenario), file, dict(overrides or {}), scenario.profile, scenario.seed,
                     __version__, argv)


def execute(scenario: Scenario, progress: Callable[[float], None] | None = None,
            inputs: RunInputs | None = None) -> RunRecord:
    """Run a scenario to its end and collect everything the store and reports need."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    results = Simulation(scenario).run(progress)
    wall = time.perf_counter() - t0
    summary, findings = assess(results.measurements, results.window, scenario)
    return RunRecord(
        run_id=run_id_for(scenario), scenario=scenario.name, profile=scenario.profile, seed=scenario.seed,
        scenario_hash=scenario_hash(scenario), document=scenario_document(scenario), started=started,
        sim_seconds=results.sim_seconds, wall_seconds=wall, events=results.events,
        summary=summary, measurements=results.measurements, window=results.window, findings=findings,
        inputs=inputs if inputs is not None else inputs_for(scenario))


def same_run_key(scenario: Scenario) -> str:
    """What a run's results depend on: the scenario but its name (the simulation never reads
    the name), so two scenarios with the same key give the same measurements."""
    return scenario_hash(scenario.model_copy(update={"name": ""}))


def record_as(record: RunRecord, scenario: Scenario) -> RunRecord:
    """``record`` (a run of a scenario with ``scenario``'s ``same_run_key``) as the record of
    ``scenario``: its own id, name, document and inputs, the summary and findings assessed
    again under it; the measurements, times and event count are the run's."""
    summary, findings = assess(record.measurements, record.window, scenario)
    return replace(record, run_id=run_id_for(scenario), scenario=scenario.name, scenario_hash=scenario_hash(scenario),
                   document=scenario_document(scenario), summary=summary, findings=findings,
                   inputs=inputs_for(scenario))


__all__ = ["RunRecord", "assess", "detect_all", "dumps", "execute", "inputs_for", "record_as", "run_id_for",
           "same_run_key"]
