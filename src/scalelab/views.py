"""The table output of each command (``-o table``): what a person reads in a terminal or a pipe.

Every view takes the command's JSON document (CONTRACTS.md shapes), so what a person reads
and what a script reads never disagree.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from scalelab import render


def run(doc: dict[str, Any]) -> None:
    out = render.console()
    out.print(f"[bold]run {doc['run_id']}[/] scenario {escape(doc['scenario'])} seed {doc['seed']}: "
              f"{render.value('sim_seconds', doc['sim_seconds'])} simulated, {doc['events']:,} events, "
              f"{render.value('wall_seconds', doc['wall_seconds'])} wall")
    inputs = doc.get("inputs")
    if inputs:
        source = inputs.get("file") or "built-in"
        overrides = ", ".join(render.settings_lines(inputs.get("overrides") or {})) or "none"
        out.print(f"inputs: {escape(source)}; profile {inputs['profile']}; overrides: {escape(overrides)}; "
                  f"scalelab {inputs['version']}")
        if inputs.get("argv"):
            out.print(f"command: {escape(' '.join(inputs['argv']))}")
    table = Table("metric", "value")
    for key, number in doc["summary"].items():
        table.add_row(key, render.value(key, number))
    out.print(table)
    trend_lines(doc.get("trends") or {})
    findings(doc["findings"])


def trend_lines(trends: dict[str, list[float]]) -> None:
    """A sparkline per series family that moved, with its range."""
    from scalelab.trends import sparkline

    if not trends:
        return
    out = render.console()
    out.print("[bold]trends[/] (over the run):")
    width = max(len(f) for f in trends)
    for family, values in trends.items():
        out.print(f"  {family:<{width}} {sparkline(values)} {render.value(family, min(values))} .. "
                  f"{render.value(family, max(values))}")


def findings(items: list[dict[str, Any]]) -> None:
    out = render.console()
    for f in items:
        ev = f["evidence"]
        colour = {"error": "red", "warning": "yellow"}.get(f["severity"], "blue")
        metric = ev.get("metric")
        if ev.get("value"):
            observed = f" ({ev['value']})"  # the figure and the scale, as the finding states them
        elif metric is not None:
            observed = f" ({metric} = {render.value(metric, ev['observed'])})"
        else:
            observed = ""
        out.print(f"[{colour}]{f['severity']}[/] {f['id']}: {escape(f['title'])}{escape(observed)}")
        out.print(f"  fix: {escape(f['fix'])}")


def reproductions(results: list[dict[str, Any]]) -> None:
    """One table per entry: metric | broken | fixed | report band | holds; the gap as bullets."""
    out = render.console()
    for r in results:
        out.print(f"[bold]{r['id']}[/]: {r['status']}")
        if r["status"] == "not_modelled":
            if r.get("gap"):
                out.print(f"  why: {escape(r['gap'])}")
            continue
        runs = r["runs"]
        broken, fixed = runs["broken"], runs["fixed"]
        table = Table("metric", "broken", "fixed", "report band", "holds", "source")
        for metric in dict.fromkeys(b["metric"] for b in r["bands"]):
            rows = [b for b in r["bands"] if b["metric"] == metric]
            bands = "; ".join(f"{b['run']} {render.band(b['low'], b['high'], metric)}" for b in rows)
            holds = ", ".join(f"{b['run']} {'yes' if b['ok'] else 'NO'}" for b in rows)
            fixed_value = fixed["summary"].get(metric) if fixed else None
            table.add_row(metric, render.value(metric, broken["summary"].get(metric)),
                          render.value(metric, fixed_value), bands, holds,
                          escape("; ".join(dict.fromkeys(b["source"] for b in rows))))
        out.print(table)
        out.print(f"  detected: broken {'yes' if broken['detected'] else 'no'}, "
                  f"fixed {'yes' if fixed and fixed['detected'] else 'no'}")
        out.print("  broken differs by: " + escape(", ".join(render.settings_lines(broken["diff"])) or "nothing"))
        if r["gap"]:
            out.print("  gap:")
            for item in r["gap"].split("; "):
                out.print(f"  - {escape(item)}")


def catalogue_entry(d: dict[str, Any]) -> None:
    out = render.console()
    for key in ("id", "title", "layer", "status", "symptoms", "cause", "fix"):
        out.print(f"[bold]{key}[/]: {escape(str(d[key]))}")
    for title, patch in (("fix patch", d["patch"]), ("broken setting", d.get("broken") or {}),
                         ("reproduction context", d["context"])):
        if patch:
            out.print(f"[bold]{title}[/]:")
            for line in render.settings_lines(patch):
                out.print(f"  {escape(line)}")
    for band in d["bands"]:
        out.print(f"  band {band['run']} {band['metric']} {render.band(band['low'], band['high'], band['metric'])}"
                  f" ({escape(band['source'])})")
    if d["not_modelled_reason"]:
        out.print(f"[bold]not modelled[/]: {escape(d['not_modelled_reason'])}")


def catalogue(docs: list[dict[str, Any]]) -> None:
    table = Table("id", "layer", "status", "title", "why not modelled")
    for d in docs:
        table.add_row(d["id"], d["layer"], d["status"], escape(d["title"]), escape(d["not_modelled_reason"] or ""))
    render.console().print(table)


def runs(rows: list[dict[str, Any]]) -> None:
    table = Table("run_id", "scenario", "nodes", "pods", "profile", "overrides", "seed", "started", "wall")
    for r in rows:
        table.add_row(r["run_id"], escape(r["scenario"]), render.value("nodes", r["nodes"]),
                      render.value("pods", r["pods"]), r["profile"] or "-",
                      escape(", ".join(render.settings_lines(r["overrides"] or {}))), str(r["seed"]), r["started"],
                      render.value("wall_seconds", r["wall_seconds"]))
    render.console().print(table)


def check(doc: dict[str, Any]) -> None:
    """A check: its findings (file:line, then the evidence and the fix), then the files read."""
    out = render.console()
    colour = {"error": "red", "warning": "yellow"}
    for f in doc["findings"]:
        ev = f["evidence"]
        where = ev["file"] + (":" + ",".join(str(n) for n in ev["lines"]) if ev["lines"] else " (not set)")
        out.print(f"[{colour.get(f['severity'], 'blue')}]{f['severity']}[/] {f['id']}: {escape(f['title'])} "
                  f"[dim]{escape(where)}[/]")
        if ev.get("value"):
            out.print(f"  {escape(ev['value'])}")
        out.print(f"  fix: {escape(f['fix'])}")
    table = Table("file", "kind", "values read", "unreadable")
    for f in doc["files"]:
        table.add_row(escape(f["path"]), f["kind"], str(f["values_read"]), escape(f["unreadable"] or ""))
    out.print(table)
    for u in doc.get("unknown", []):
        out.print(f"[dim]unknown[/] {escape(u['path'])} [dim]{escape(u['file'])}:{u['line'] or '?'}[/]: "
                  f"{escape(u['why'])}")
    out.print(f"{len(doc['findings'])} findings in {len(doc['files'])} files")


def sweep(rows: list[dict[str, Any]], metrics: list[str]) -> None:
    """A sweep: one row per parameter combination, each metric's mean and its spread over seeds."""
    table = Table("params", "seeds", *metrics)
    for row in rows:
        cells = []
        for metric in metrics:
            cell = row.get(metric)
            if cell is None:
                cells.append("-")
            elif row["seeds"] > 1:
                cells.append(f"{render.value(metric, cell['mean'])} [{render.value(metric, cell['min'])}, "
                             f"{render.value(metric, cell['max'])}]")
            else:
                cells.append(render.value(metric, cell["mean"]))
        table.add_row(escape(", ".join(f"{k}={v}" for k, v in row["params"].items())), str(row["seeds"]), *cells)
    render.console().print(table)


def breakpoint(doc: dict[str, Any]) -> None:
    out = render.console()
    low, high = doc["range"]
    verdict = f"breaks at {doc['breaks_at']}" if doc["breaks_at"] is not None else f"holds up to {high}"
    out.print(f"[bold]{doc['path']}[/] over {low}..{high} against {', '.join(doc['slos'])}: {verdict}"
              + ("" if doc["monotone"] else " [red](not monotone on the runs made: the search's assumption fails)[/]"))
    table = Table("value", "broken", *doc["fits"])
    for run in doc["runs"]:
        table.add_row(str(run["value"]), "yes" if run["broken"] else "no",
                      *(render.value(m, run["summary"].get(m)) for m in doc["fits"]))
    out.print(table)
    for metric, law in doc["fits"].items():
        if law is None:
            out.print(f"{metric}: too few runs for a scaling law")
            continue
        (at, predicted), = law["extrapolated"].items()
        out.print(f"{metric}: {law['form']} {[round(p, 6) for p in law['params']]}, r2 {law['r2']}, "
                  f"leave-one-out error {law['loo_error']:.1%}; at {at}: {render.value(metric, predicted)}")


def onsets(doc: dict[str, Any]) -> None:
    """The onset table: per entry, each size run (x: harm, d: detected only, .: nothing)."""
    table = Table("entry", "sizes (nodes): x harm, d detected, . none", "onset", "monotone")
    for entry, row in doc["entries"].items():
        marks = " ".join(f"{size}{'x' if harm else 'd' if det else '.'}"
                         for size, det, harm in zip(row["sizes"], row["detected"], row["harmful"], strict=True))
        onset = row["onset"]
        table.add_row(entry, marks, "-" if onset is None else str(onset), "yes" if row["monotone"] else "NO")
    render.console().print(table)
