"""From a run's measurements to what people read: the summary and the findings.

Reads results only (a finished simulation's, or a stored run's), never live components, so
``scalelab show RUN --recompute`` summarises a stored run again with today's definitions.
"""

from __future__ import annotations

from typing import Any

from scalelab.catalogue.entry import RunView
from scalelab.catalogue.registry import ENTRIES
from scalelab.metrics.summary import summarise
from scalelab.results import Finding, Measurements, Window
from scalelab.spec.model import Scenario


def detect_all(view: RunView) -> list[Finding]:
    """Every catalogue detector over one run's summary and counters."""
    found = []
    for entry in ENTRIES.values():
        if entry.detect is not None:
            finding = entry.detect(view)
            if finding is not None:
                found.append(finding)
    return found


def assess(m: Measurements, window: Window, scenario: Scenario) -> tuple[dict[str, float | None], list[Finding]]:
    """Summary and findings of a run, from its measurements alone."""
    summary = summarise(m, window, scenario)
    return summary, detect_all(RunView(summary, m.counters))


def reassess(document: dict[str, Any], m: Measurements, window: Window) -> tuple[dict[str, float | None],
                                                                                   list[Finding]]:
    """A stored run's summary and findings again, from its stored scenario document."""
    from scalelab.spec.loader import validate

    scenario = validate(document, "stored run", check_phases=False)
    return assess(m, window, scenario)
