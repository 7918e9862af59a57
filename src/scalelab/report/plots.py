"""Plots of stored series (matplotlib, Agg: no screen), written as PNG files.

A family is every label set of one metric name; a family "moved" when any of its series is not
constant. Phases are drawn as dotted vertical lines; a reproduction overlays broken and fixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from scalelab.export import split
from scalelab.results import Measurements

Series = dict[str, tuple[list[float], list[float]]]


def families(m: Measurements) -> dict[str, Series]:
    """family -> {series name -> (times, values)}."""
    out: dict[str, Series] = defaultdict(dict)
    for t, name, v in m.samples:
        metric, _labels = split(name)
        times, values = out[metric].setdefault(name, ([], []))
        times.append(t)
        values.append(v)
    return dict(out)


def moved(series: Series) -> bool:
    return any(values and max(values) != min(values) for _t, values in series.values())


def plot_family(path: Path, family: str, runs: Sequence[tuple[str, Series]], phases: Sequence[float]) -> Path:
    """One figure: every series of ``family`` in each run (label: run and label set)."""
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    styles = ("-", "--", ":")
    for i, (run, series) in enumerate(runs):
        for name, (times, values) in sorted(series.items()):
            labels = name[len(family):]
            ax.plot(times, values, styles[i % len(styles)], linewidth=1.2,
                    label=f"{run} {labels}".strip() if len(runs) > 1 or labels else None)
    for t in phases:
        ax.axvline(t, color="grey", linestyle=":", linewidth=0.8)
    ax.set_title(family, fontsize=10)
    ax.set_xlabel("simulated seconds")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_band(path: Path, metric: str, values: dict[str, float | None], band: tuple[float | None, float | None],
              run: str) -> Path:
    """A band metric: each run's value as a bar, the report's band on ``run`` shaded."""
    fig, ax = plt.subplots(figsize=(5, 2.6), dpi=100)
    names = list(values)
    heights = [v if v is not None else 0.0 for v in values.values()]
    ax.bar(names, heights, color=["#c0392b" if n == "broken" else "#2e86c1" for n in names])
    low, high = band
    top = max([*heights, low or 0.0, high or 0.0, 1e-9]) * 1.2
    ax.axhspan(low if low is not None else 0.0, high if high is not None else top, color="#f7dc6f", alpha=0.4,
               label=f"report band ({run})")
    ax.set_ylim(0, top)
    ax.set_title(metric, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_breakpoint(path: Path, doc: dict[str, object], bounds: dict[str, float]) -> Path:
    """A breakpoint search: each SLO metric against the varied value (the runs made), its fitted
    law extrapolated to twice the range's top, the SLO's bound and the breaking value."""
    from scalelab.laws import extrapolate

    fits = doc["fits"]
    assert isinstance(fits, dict)
    runs = doc["runs"]
    assert isinstance(runs, list)
    fig, axes = plt.subplots(len(fits), 1, figsize=(7, 2.8 * len(fits)), dpi=100, squeeze=False)
    span = doc["range"]
    assert isinstance(span, list)
    high = float(span[1])
    for ax, (metric, law) in zip(axes[:, 0], fits.items(), strict=True):
        xs = [r["value"] for r in runs if r["summary"].get(metric) is not None]
        ys = [r["summary"][metric] for r in runs if r["summary"].get(metric) is not None]
        ax.plot(xs, ys, "o", label="runs")
        if law is not None:
            grid = [min(xs) + (2 * high - min(xs)) * i / 100 for i in range(101)]
            ax.plot(grid, [extrapolate(law, g) for g in grid], "-", linewidth=1,
                    label=f"{law['form']} (leave-one-out {law['loo_error']:.1%})")
        if metric in bounds:
            ax.axhline(bounds[metric], color="#c0392b", linestyle="--", linewidth=1, label="SLO")
        if doc["breaks_at"] is not None:
            ax.axvline(float(doc["breaks_at"]), color="grey", linestyle=":", label="breaks at")  # type: ignore[arg-type]
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel(str(doc["path"]))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
