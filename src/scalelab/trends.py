"""Compact trends of a run's sampled series, for the terminal (a sparkline per family that
moved): each family reduced to one line (the busiest label set at each sample: max for
percentages and sizes, the sum for counters), averaged into ``POINTS`` bins."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from scalelab.results import Measurements

POINTS = 40
BARS = "▁▂▃▄▅▆▇█"


def trends(m: Measurements, points: int = POINTS) -> dict[str, list[float]]:
    """family -> its trend (``points`` values at most), for every family that moved."""
    by_time: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for t, name, v in m.samples:
        by_time[name.split("{", 1)[0]][t].append(v)
    out: dict[str, list[float]] = {}
    for family, samples in sorted(by_time.items()):
        combine = sum if family.endswith("_total") else max
        line = np.array([combine(samples[t]) for t in sorted(samples)], dtype=float)
        if len(line) < 2 or float(line.max()) == float(line.min()):
            continue
        bins = np.array_split(line, min(points, len(line)))
        out[family] = [round(float(b.mean()), 6) for b in bins]
    return out


def sparkline(values: list[float]) -> str:
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(BARS[min(len(BARS) - 1, int((v - low) / span * len(BARS)))] for v in values)
