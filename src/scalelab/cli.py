"""Command line (click + rich). Exit codes and JSON shapes: CONTRACTS.md.

0 ok · 1 findings / not reproduced · 2 bad input (one line on stderr, no traceback) ·
3 internal error (short message; traceback with --debug).
"""

from __future__ import annotations

import functools
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from scalelab import __version__

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class UserError(Exception):
    """A user mistake: printed as one line, exit 2."""


def _fail(message: str, code: int) -> None:
    click.echo(f"scalelab: error: {message}", err=True)
    sys.exit(code)


def common(func: F) -> F:
    """Options every command shares, and the mapping of failures to exit codes."""

    @click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
                  envvar="SCALELAB_STORE", default=None, help="Results store (DuckDB file).")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    @click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
    @functools.wraps(func)
    def wrapper(*args: Any, debug: bool, **kwargs: Any) -> Any:
        from scalelab.spec.loader import ScenarioError
        from scalelab.store.duckdb_store import StoreError

        try:
            return func(*args, **kwargs)
        except (ScenarioError, StoreError, UserError) as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            _fail("interrupted; nothing of the unfinished run was stored", 130)
        except Exception as exc:
            if debug:
                traceback.print_exc()
            _fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)",
                  EXIT_INTERNAL)
        return None

    return wrapper  # type: ignore[return-value]


def _store(path: Path | None) -> Any:
    from scalelab.store.duckdb_store import Store

    return Store(path)


def _progress(label: str) -> Callable[[float], None] | None:
    if not sys.stderr.isatty():
        return None
    t0 = time.perf_counter()

    def show(sim_time: float) -> None:
        click.echo(f"\r{label}: {sim_time:,.0f} s simulated, {time.perf_counter() - t0:,.1f} s wall",
                   err=True, nl=False)

    return show


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scalelab")
def main() -> None:
    """What breaks when a Kubernetes cluster grows, why, and which setting fixes it."""


@main.command()
@click.argument("scenario", required=False)
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="Override a scenario value.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Random seed of the run.")
@common
def run(scenario: str | None, sets: tuple[str, ...], seed: int | None, store_path: Path | None, fmt: str) -> None:
    """Simulate SCENARIO (a built-in name or a YAML file; default campaign-900)."""
    from scalelab.runner import dumps, execute
    from scalelab.scenarios import load_scenario

    extra = [*sets, f"seed={seed}"] if seed is not None else list(sets)
    sc = load_scenario(scenario, extra)
    store = _store(store_path)
    rec = execute(sc, _progress(sc.name))
    if sys.stderr.isatty():
        click.echo("", err=True)
    store.save(rec, __version__)
    if fmt == "json":
        click.echo(dumps(rec.to_json()))
        return
    _print_run(rec.to_json())


def _print_run(doc: dict[str, Any]) -> None:
    console = Console()
    console.print(f"[bold]run {doc['run_id']}[/] scenario {doc['scenario']} seed {doc['seed']}: "
                  f"{doc['sim_seconds']:,.0f} s simulated, {doc['events']:,} events, {doc['wall_seconds']:.1f} s wall")
    table = Table("metric", "value")
    for key, value in doc["summary"].items():
        table.add_row(key, "-" if value is None else f"{value:,.6g}")
    console.print(table)
    for f in doc["findings"]:
        ev = f["evidence"]
        console.print(f"[red]{f['severity']}[/] {f['id']}: {f['title']} ({ev['metric']} = {ev['observed']})")
        console.print(f"  fix: {f['fix']}")


@main.command()
@click.argument("entry_id")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="Parallel runs.")
@common
def reproduce(entry_id: str, jobs: int, store_path: Path | None, fmt: str) -> None:
    """Run ENTRY_ID (or 'all') broken and fixed, next to the report's figures."""
    from scalelab.catalogue.registry import ENTRIES
    from scalelab.reproduce import reproduce as do_reproduce
    from scalelab.runner import dumps

    if entry_id == "all":
        ids = list(ENTRIES)
    elif entry_id in ENTRIES:
        ids = [entry_id]
    else:
        raise UserError(f"{entry_id}: unknown catalogue id (see 'scalelab catalogue')")
    store = _store(store_path)
    results = do_reproduce(ids, jobs=jobs, on_record=lambda rec: store.save(rec, __version__))
    if fmt == "json":
        click.echo(dumps(results if entry_id == "all" else results[0]))
    else:
        _print_reproductions(results)
    if any(r["status"] != "reproduced" for r in results):
        sys.exit(EXIT_FINDINGS)


def _print_reproductions(results: list[dict[str, Any]]) -> None:
    console = Console()
    for r in results:
        console.print(f"[bold]{r['id']}[/]: {r['status']}")
        if r["status"] == "not_modelled":
            continue
        table = Table("run", "metric", "value", "band", "ok", "source")
        for b in r["bands"]:
            band = f"[{'' if b['low'] is None else b['low']}, {'' if b['high'] is None else b['high']}]"
            value = "-" if b["value"] is None else f"{b['value']:,.4g}"
            table.add_row(b["run"], b["metric"], value, band, "yes" if b["ok"] else "NO", b["source"])
        console.print(table)
        runs = r["runs"]
        console.print(f"  detected: broken={runs['broken']['detected']} fixed={runs['fixed']['detected']}; "
                      f"broken differs by {runs['broken']['diff']}")
        if r["gap"]:
            console.print(f"  gap: {r['gap']}")


@main.command()
@click.argument("entry_id", required=False)
@common
def catalogue(entry_id: str | None, store_path: Path | None, fmt: str) -> None:
    """List the catalogue, or show one entry."""
    from scalelab.catalogue.registry import ENTRIES
    from scalelab.runner import dumps

    if entry_id is not None and entry_id not in ENTRIES:
        raise UserError(f"{entry_id}: unknown catalogue id")
    chosen = [ENTRIES[entry_id]] if entry_id else list(ENTRIES.values())
    docs: list[dict[str, Any]] = [
            {"id": e.id, "title": e.title, "layer": e.layer, "status": "modelled" if e.modelled else "not_modelled",
             "symptoms": e.symptoms, "cause": e.cause, "fix": e.fix_text, "patch": dict(e.patch or {}),
             "references": list(e.references),
             "context": dict(e.reproduction.context) if e.reproduction else {},
             "bands": [{"run": b.run, "metric": b.metric, "low": b.low, "high": b.high,
                        "source": f"{b.source}: {b.note}"} for b in e.bands],
             "not_modelled_reason": e.not_modelled_reason if not e.modelled else None} for e in chosen]
    if fmt == "json":
        click.echo(dumps(docs[0] if entry_id else docs))
        return
    console = Console()
    if entry_id:
        d = docs[0]
        for key in ("id", "title", "layer", "status", "symptoms", "cause", "fix", "patch", "context"):
            console.print(f"[bold]{key}[/]: {d[key]}")
        for band in d["bands"]:
            bounds = f"[{band['low']}, {band['high']}]"
            console.print(f"  band {band['run']} {band['metric']} in {bounds} ({band['source']})")
        if d["not_modelled_reason"]:
            console.print(f"[bold]not modelled[/]: {d['not_modelled_reason']}")
        return
    table = Table("id", "layer", "status", "title")
    for d in docs:
        table.add_row(str(d["id"]), str(d["layer"]), str(d["status"]), str(d["title"]))
    console.print(table)


@main.command()
@click.option("--nodes", "nodes_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Kubernetes YAML with Node objects.")
@click.option("--pods", "pods_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Pods, Deployments, ReplicaSets or DaemonSets to place.")
@click.option("--existing", "existing_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Pods already running (spec.nodeName).")
@click.option("--generation", type=click.Choice(["1.5", "1.5.2", "modern"]), default="modern", show_default=True)
@common
def schedule(nodes_path: Path, pods_path: Path, existing_path: Path | None, generation: str,
             store_path: Path | None, fmt: str) -> None:
    """Dry-run placement of real Kubernetes YAML."""
    from scalelab.runner import dumps
    from scalelab.schedule import dry_run

    result = dry_run(nodes_path, pods_path, existing_path, generation)
    messages = result.pop("messages")
    if fmt == "json":
        click.echo(dumps(result))
    else:
        table = Table("pod", "node")
        for key, node in result["placements"].items():
            table.add_row(key, node if node is not None else f"[red]unschedulable[/]: {messages[key]}")
        Console().print(table)
        click.echo(f"simulated scheduling time: {result['sim_seconds_per_pod']:.4g} s per pod", err=True)
    if result["unschedulable"]:
        sys.exit(EXIT_FINDINGS)


@main.command()
@common
def runs(store_path: Path | None, fmt: str) -> None:
    """List stored runs, oldest first."""
    from scalelab.results import dumps

    rows = _store(store_path).runs()
    if fmt == "json":
        click.echo(dumps(rows))
        return
    table = Table("run_id", "scenario", "seed", "started", "wall s")
    for r in rows:
        table.add_row(r["run_id"], r["scenario"], str(r["seed"]), r["started"], f"{r['wall_seconds']:.1f}")
    Console().print(table)


@main.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--recompute", is_flag=True,
              help="Summarise the stored measurements again (today's metric definitions and detectors).")
@common
def show(run_ref: str, recompute: bool, store_path: Path | None, fmt: str) -> None:
    """Show a stored run (id or unique prefix)."""
    from scalelab.results import dumps

    store = _store(store_path)
    try:
        run_id = store.resolve(run_ref)
        doc = store.result(run_id)
        if recompute:
            from scalelab.assess import reassess

            summary, findings = reassess(store.document(run_id), *store.measurements(run_id))
            doc["summary"], doc["findings"] = summary, [f.to_json() for f in findings]
    except KeyError as exc:
        raise UserError(f"{exc.args[0]}: no such run in {store.path}") from None
    if fmt == "json":
        click.echo(dumps(doc))
    else:
        _print_run(doc)


if __name__ == "__main__":  # pragma: no cover
    main()
