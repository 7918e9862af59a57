"""A run's measurements in ClusterLoader2's PerfData shape (``-o perfdata``), so that figures
published from ClusterLoader2 (APIResponsiveness, PodStartupLatency) compare like for like.

``{"version": "v1", "dataItems": [{"data": {"Perc50": ms, "Perc90": ms, "Perc99": ms},
"unit": "ms", "labels": {...}}]}``: one item per (verb, resource, scope) of API calls, labelled
``Verb``/``Resource``/``Scope``, and one per pod start-up phase, labelled ``Metric`` with
ClusterLoader2's phase names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_LABELLED = re.compile(r"^(?P<family>[a-z_]+)_p(?P<q>\d+)\{(?P<labels>.*)\}$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def perfdata(summary: Mapping[str, float | None]) -> dict[str, Any]:
    """The PerfData document of a run summary's labelled latency families."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for key, value in summary.items():
        match = _LABELLED.match(key)
        if match is None or value is None or match["family"] not in ("api_request_seconds", "pod_startup_seconds"):
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if match["family"] == "api_request_seconds":
            shown = {"Verb": labels.get("verb", ""), "Resource": labels.get("resource", ""),
                     "Scope": labels.get("scope", "")}
        else:
            shown = {"Metric": labels.get("phase", "")}
        item = items.setdefault((match["family"], match["labels"]), {"data": {}, "unit": "ms", "labels": shown})
        item["data"][f"Perc{match['q']}"] = round(value * 1000.0, 6)
    return {"version": "v1", "dataItems": list(items.values())}
