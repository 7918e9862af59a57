"""``scalelab report``: a stored run or reproduction as an HTML page in a directory, with its
plots as PNG files beside it (no network needed to open it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from scalelab import render
from scalelab.catalogue.registry import ENTRIES
from scalelab.report.plots import families, moved, plot_band, plot_family
from scalelab.results import Measurements
from scalelab.store.duckdb_store import Store

PLOT_SIZE = (800, 320)
BAND_SIZE = (500, 260)
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("scalelab.report", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), keep_trailing_newline=True)


def _phases(m: Measurements) -> list[float]:
    return [e.time for e in m.events if e.kind == "phase" and e.time > 0]


def _findings(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in found:
        entry = ENTRIES.get(f["id"])
        ev = f["evidence"]
        observed = ev.get("value") or (f"{ev['metric']} = {render.value(ev['metric'], ev['observed'])}"
                                       if ev.get("metric") else "")
        out.append({**f, "observed": observed, "symptoms": entry.symptoms if entry else "",
                    "cause": entry.cause if entry else ""})
    return out


def _write(directory: Path, context: dict[str, Any]) -> Path:
    page = directory / "index.html"
    tmp = directory / ".index.html.tmp"
    tmp.write_text(_ENV.get_template("report.html.j2").render(**context), encoding="utf-8")
    tmp.replace(page)
    return page


def run_report(store: Store, run_id: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    result = store.result(run_id)
    m, _window = store.measurements(run_id)
    plots = []
    for i, (family, series) in enumerate(sorted(families(m).items())):
        if moved(series):
            file = plot_family(directory / f"plot{i:03d}.png", family, [("", series)], _phases(m))
            plots.append({"file": file.name, "caption": family, "width": PLOT_SIZE[0], "height": PLOT_SIZE[1]})
    summary = [(k, [render.value(k, v)]) for k, v in result["summary"].items()]
    facts = [("run", run_id), ("scenario", result["scenario"]), ("profile", result.get("profile")),
             ("seed", result.get("seed")), ("simulated", render.value("sim_seconds", result.get("sim_seconds"))),
             ("events", result.get("events"))]
    return _write(directory, {"title": f"scalelab run {run_id} ({result['scenario']})", "facts": facts,
                              "findings": _findings(result.get("findings", [])), "summary": summary,
                              "summary_runs": [run_id], "plots": plots, "bands": [], "gap": None})


def reproduction_report(store: Store, entry_id: str, directory: Path) -> Path:
    """The stored reproduction of an entry: bands with broken and fixed, series overlaid."""
    doc = store.reproduction(entry_id)
    directory.mkdir(parents=True, exist_ok=True)
    runs = {name: run for name, run in doc["runs"].items() if run is not None}
    measured = {name: store.measurements(run["run_id"])[0] for name, run in runs.items()}
    plots = []
    for i, band in enumerate(doc["bands"]):
        values = {name: run["summary"].get(band["metric"]) for name, run in runs.items()}
        file = plot_band(directory / f"band{i:03d}.png", band["metric"], values, (band["low"], band["high"]),
                         band["run"])
        plots.append({"file": file.name, "caption": f"{band['metric']}: {band['source']}", "width": BAND_SIZE[0],
                      "height": BAND_SIZE[1]})
    by_run = {name: families(m) for name, m in measured.items()}
    names = sorted({f for fams in by_run.values() for f in fams})
    for i, family in enumerate(names):
        series = [(name, fams[family]) for name, fams in by_run.items() if family in fams]
        if any(moved(s) for _n, s in series):
            first = next(iter(measured.values()))
            file = plot_family(directory / f"plot{i:03d}.png", family, series, _phases(first))
            plots.append({"file": file.name, "caption": f"{family}: {' vs '.join(n for n, _s in series)}",
                          "width": PLOT_SIZE[0], "height": PLOT_SIZE[1]})
    entry = ENTRIES[entry_id]
    metrics = sorted({k for run in runs.values() for k in run["summary"]})
    summary = [(k, [render.value(k, runs[n]["summary"].get(k)) for n in runs]) for k in metrics]
    bands = [{**b, "band": render.band(b["low"], b["high"], b["metric"]),
              "value": render.value(b["metric"], b["value"])} for b in doc["bands"]]
    facts = [("entry", entry_id), ("status", doc["status"]), ("title", entry.title), ("fix", entry.fix_text),
             *((f"{name} run", run["run_id"]) for name, run in runs.items())]
    return _write(directory, {"title": f"scalelab reproduction {entry_id}: {doc['status']}", "facts": facts,
                              "findings": [], "summary": summary, "summary_runs": list(runs), "plots": plots,
                              "bands": bands, "gap": doc.get("gap")})
