"""The commands that read real files, run many scenarios, or turn stored runs into something
else: ``check``, ``import``, ``sweep``, ``breakpoint``, ``export`` and ``report`` (registered on
``scalelab.cli.main``; kept apart so neither module outgrows a read)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from scalelab import __version__
from scalelab.cli import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    UserError,
    _emit,
    _entry_id,
    _fail,
    _store,
    common,
    common_writer,
    main,
)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--nodes", type=click.IntRange(min=1), default=None,
              help="Cluster size for size-dependent rules (default: the inventory's, else where each starts to "
                   "matter).")
@common
def check(paths: tuple[Path, ...], nodes: int | None, store_path: Path | None, fmt: str) -> None:
    """Audit deployment files (nginx.conf, Kargo vars and inventories, manifests, oslo .conf,
    fuel-ccp files, Prometheus) against the catalogue: findings with file and line."""
    from scalelab import views
    from scalelab.check.audit import audit
    from scalelab.check.sarif import sarif
    from scalelab.results import dumps

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such file or directory")
    report = audit(list(paths), nodes)
    doc = report.json()
    if fmt == "sarif":
        click.echo(dumps(sarif(report.findings, __version__)))
    else:
        _emit(doc, fmt, views.check)
    if not any(f.unreadable is None for f in report.files):
        _fail("nothing could be read: " + "; ".join(f"{f.path}: {f.unreadable}" for f in report.files[:3]),
              EXIT_BAD_INPUT)
    if any(f.severity in ("error", "warning") for f in report.findings):
        sys.exit(EXIT_FINDINGS)


@main.command()
@click.argument("scenario")
@click.option("--vary", "vary", multiple=True, required=True, metavar="PATH=a,b,c",
              help="A setting and its values (repeat for a cross product).")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Seeds per combination.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--executor", "kind", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--metric", "metrics", multiple=True, help="Metrics the table shows (default: a few of the SLOs').")
@common
def sweep(scenario: str, vary: tuple[str, ...], seeds: int, workers: int, kind: str, metrics: tuple[str, ...],
          store_path: Path | None, fmt: str) -> None:
    """Run SCENARIO over the cross product of --vary values (and seeds), in parallel."""
    from scalelab import views
    from scalelab.scenarios import load_scenario
    from scalelab.sweep import parse_vary, spread
    from scalelab.sweep import sweep as do_sweep

    base = load_scenario(scenario)
    plan = parse_vary(vary, base)
    store = _store(store_path)
    store.check()
    doc, records = do_sweep(base, plan, seeds, workers, kind)
    for rec in records:
        store.save(rec, __version__)
    store.tag_sweep(doc["sweep_id"], [(r["run_id"], r["params"]) for r in doc["runs"]])
    click.echo(f"stored {len(records)} runs of sweep {doc['sweep_id']} in {store.path}", err=True)
    shown = list(metrics) or ["api_mutating_response_seconds_p99", "pod_startup_seconds_p99",
                              "apiserver_cpu_percent_p95"]
    _emit(doc, fmt, lambda d: views.sweep(spread(d, shown), shown))


@main.command(name="breakpoint")
@click.argument("scenario")
@click.option("--vary", "vary", required=True, metavar="PATH=LOW..HIGH", help="The setting searched.")
@click.option("--slo", "slos", multiple=True, required=True, metavar="METRIC<=NUMBER",
              help="An SLO on a summary metric (<=, <, >=, >, ==); repeat for several.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG: each SLO metric against the value, its law extrapolated, the SLO's bound.")
@common
def breakpoint_(scenario: str, vary: str, slos: tuple[str, ...], workers: int, plot_path: Path | None,
                store_path: Path | None, fmt: str) -> None:
    """The smallest value of a setting at which any SLO breaks, and each metric's scaling law."""
    from scalelab import views
    from scalelab.breakpoint import breakpoint_search
    from scalelab.scenarios import load_scenario
    from scalelab.spec.loader import scenario_document
    from scalelab.sweep import parse_range, parse_slo

    base = load_scenario(scenario)
    path, low, high = parse_range(vary)
    current: Any = scenario_document(base)
    for key in path.split("."):
        current = current.get(key) if isinstance(current, dict) else None
    if current is None or isinstance(current, bool) or not isinstance(current, int | float):
        raise UserError(f"--vary: {path} is not a numeric setting of {base.name}")
    store = _store(store_path)
    store.check()
    stored: list[Any] = []

    def keep(rec: Any) -> None:
        store.save(rec, __version__)
        stored.append(rec)

    parsed = [parse_slo(s) for s in slos]
    doc = breakpoint_search(base, path, low, high, parsed, workers, integer=isinstance(current, int), on_record=keep)
    if plot_path is not None:
        from scalelab.report.plots import plot_breakpoint

        plot_breakpoint(plot_path, doc, {s.metric: s.bound for s in parsed})
        click.echo(f"wrote {plot_path}", err=True)
    store.tag_sweep(doc["sweep_id"], [(r["run_id"], {path: r["value"]}) for r in doc["runs"]])
    click.echo(f"stored {len(stored)} runs in {store.path}", err=True)
    _emit(doc, fmt, views.breakpoint)


@main.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--openmetrics", "om_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the run's series as OpenMetrics text (promtool tsdb create-blocks-from openmetrics).")
@click.option("--parquet", "parquet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the run's series and events as Parquet files into this directory.")
@click.option("--start", default=None, help="When the run's clock starts (ISO 8601 or epoch seconds; default: "
                                            "when the run was made).")
@common_writer
def export(run_ref: str, om_path: Path | None, parquet_dir: Path | None, start: str | None,
           store_path: Path | None) -> None:
    """Export a stored run: OpenMetrics text for Prometheus, Parquet for anything else."""
    from datetime import datetime

    from scalelab.export import openmetrics

    if om_path is None and parquet_dir is None:
        raise UserError("export: give --openmetrics FILE and/or --parquet DIR")
    store = _store(store_path)
    run_id = store.resolve(run_ref)
    if om_path is not None:
        made = next((r["started"] for r in store.runs() if r["run_id"] == run_id), None)
        when = start or made or "1970-01-01T00:00:00+00:00"
        try:
            epoch = float(when)
        except ValueError:
            try:
                epoch = datetime.fromisoformat(when).timestamp()
            except ValueError:
                raise UserError(f"--start: {when!r} is neither ISO 8601 nor epoch seconds") from None
        measurements, window = store.measurements(run_id)
        tmp = om_path.with_name(om_path.name + ".tmp")
        tmp.write_text(openmetrics(measurements, epoch, window.run_end), encoding="utf-8")
        tmp.replace(om_path)
        click.echo(f"wrote {om_path}", err=True)
    if parquet_dir is not None:
        for path in store.export_parquet(run_id, parquet_dir):
            click.echo(f"wrote {path}", err=True)


@main.command()
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option("--reproduction", "entry_id", default=None, help="A stored reproduction (scalelab reproduce ID) instead.")
@click.option("--html", "html_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for index.html and its plots.")
@common_writer
def report(run_ref: str | None, entry_id: str | None, html_dir: Path, store_path: Path | None) -> None:
    """An HTML report of a stored run (or reproduction): findings, summary, the plots of every
    series that moved."""
    from scalelab.catalogue.registry import ENTRIES
    from scalelab.report.html import reproduction_report, run_report

    if (run_ref is None) == (entry_id is None):
        raise UserError("report: give a RUN or --reproduction ID (one of them)")
    store = _store(store_path)
    if entry_id is not None:
        page = reproduction_report(store, _entry_id(entry_id, ENTRIES), html_dir)
    else:
        assert run_ref is not None
        page = run_report(store, store.resolve(run_ref), html_dir)
    click.echo(f"wrote {page}", err=True)


@main.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the scenario (YAML).")
@click.option("--nodes", type=click.IntRange(min=1), default=None,
              help="Cluster size (default: the inventory's, else the report's 900 nodes / 200 computes).")
@click.option("--name", default=None, help="The scenario's name (default: the first path's name).")
@common_writer
def import_(paths: tuple[Path, ...], out_path: Path, nodes: int | None, name: str | None,
            store_path: Path | None) -> None:
    """Write a runnable scenario of the configuration the files hold (then: scalelab run FILE)."""
    from scalelab.check.scenario import document, render

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such file or directory")
    doc, imported = document(list(paths), nodes, name)
    if not any(f.unreadable is None for f in imported.files):
        _fail("nothing could be read", EXIT_BAD_INPUT)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(render(doc, imported), encoding="utf-8")
    tmp.replace(out_path)  # never a half-written scenario
    click.echo(f"wrote {out_path}: {len(imported.values)} settings from {len(imported.files)} files "
               f"(run it: scalelab run {out_path})", err=True)


@main.command()
@click.argument("entry_ids", nargs=-1)
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=2, show_default=True, help="Parallel runs.")
@click.option("--write", is_flag=True, help="Write the table into the package (a model change moved an onset).")
@click.option("--compare", is_flag=True, help="Exit 1 when the regenerated table differs from the committed one.")
@common
def onsets(entry_ids: tuple[str, ...], jobs: int, write: bool, compare: bool, store_path: Path | None,
           fmt: str) -> None:
    """From which size each size-dependent entry does harm: its broken reproduction run at every
    size of a ladder (the table `check` reads)."""
    from scalelab import views
    from scalelab.catalogue import onsets as committed
    from scalelab.catalogue.registry import ENTRIES
    from scalelab.onsets import TABLE_PATH, document, dumps, generate, size_dependent

    chosen = size_dependent()
    if entry_ids:
        known = {e.id: e for e in chosen}
        for entry_id in entry_ids:
            if _entry_id(entry_id, ENTRIES) not in known:
                raise UserError(f"{entry_id}: not a size-dependent entry (they are: {', '.join(sorted(known))})")
        chosen = [e for e in chosen if e.id in entry_ids]
    if (write or compare) and entry_ids:
        raise UserError("--write and --compare regenerate the whole table: give no entry ids")
    table = generate(chosen, jobs)
    _emit(document(table), fmt, views.onsets)
    if write:
        tmp = TABLE_PATH.with_name(TABLE_PATH.name + ".tmp")
        tmp.write_text(dumps(table), encoding="utf-8")
        tmp.replace(TABLE_PATH)
        click.echo(f"wrote {TABLE_PATH}", err=True)
    if compare:
        old = {k: v.json() for k, v in committed.table().items()}
        new = {k: v.json() for k, v in table.items()}
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if changed:
            click.echo(f"onset table differs from the committed one for: {', '.join(changed)} "
                       f"(regenerate it: scalelab onsets --write)", err=True)
            sys.exit(1)
