"""From a run's measurements to what people read: the summary and the findings.

Reads results only (a finished simulation's, or a stored run's), never live components, so
``scalelab show RUN --recompute`` summarises a stored run again with today's definitions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scalelab import slo
from scalelab.catalogue.entry import RunView
from scalelab.catalogue.registry import ENTRIES
from scalelab.metrics.summary import summarise
from scalelab.results import Finding, Measurements, Window
from scalelab.spec.model import Scenario


def detect_all(view: RunView) -> list[Finding]:
    """Every catalogue detector over one run's summary and counters, then upstream's SLOs.

    A detected symptom states its measured figure and the scale it was seen at; it is an error
    when it did harm in the run (the entry's ``harm``: an SLO broken, lookups failed, ...), a
    warning when the mechanism shows without harm."""
    found = []
    nodes = view.metric("nodes") or 0.0
    for entry in ENTRIES.values():
        if entry.detect is None:
            continue
        finding = entry.detect(view)
        if finding is None:
            continue
        ev = finding.evidence
        if ev.value is None and ev.metric is not None and ev.observed is not None:
            ev = replace(ev, value=f"{ev.metric} = {ev.observed:,.4g} at {nodes:,.0f} nodes")
        severity = finding.severity if entry.harm is None else ("error" if entry.harm(view) else "warning")
        found.append(replace(finding, evidence=ev, severity=severity))
    return found + slo.findings(view, [f.id for f in found], ENTRIES)


def assess(m: Measurements, window: Window, scenario: Scenario) -> tuple[dict[str, float | None], list[Finding]]:
    """Summary and findings of a run, from its measurements alone."""
    summary = summarise(m, window, scenario)
    return summary, detect_all(RunView(summary, m.counters, scenario))


def reassess(document: dict[str, Any], m: Measurements, window: Window) -> tuple[dict[str, float | None],
                                                                                   list[Finding]]:
    """A stored run's summary and findings again, from its stored scenario document."""
    from scalelab.spec.loader import validate

    scenario = validate(document, "stored run", check_phases=False)
    return assess(m, window, scenario)
