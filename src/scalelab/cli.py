"""Command line (click + rich). Exit codes and JSON shapes: CONTRACTS.md.

0 ok · 1 findings / not reproduced · 2 bad input (one line on stderr, no traceback) ·
3 internal error (short message; traceback with --debug).
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

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


FORMATS = click.Choice(["table", "json", "yaml", "perfdata", "sarif"], case_sensitive=False)


def common(func: F) -> F:
    """Options every command shares, and the mapping of failures to exit codes."""
    return _common(func, with_format=True)


def common_writer(func: F) -> F:
    """``common`` for a command that writes a file (its ``-o`` names the file: no format)."""
    return _common(func, with_format=False)


def _common(func: F, with_format: bool) -> F:
    @click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
                  envvar="SCALELAB_STORE", default=None,
                  help="Results store (DuckDB file); default: $SCALELAB_STORE, else the user data dir.")
    @click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
    @functools.wraps(func)
    def wrapper(*args: Any, debug: bool, **kwargs: Any) -> Any:
        from scalelab.spec.loader import ScenarioError
        from scalelab.store.duckdb_store import StoreError

        if with_format:
            kwargs["fmt"] = kwargs["fmt"].lower()
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

    if with_format:
        wrapper = click.option("-o", "--output", "--format", "fmt", type=FORMATS, default="table", show_default=True,
                               help="Output: a table for people, or one JSON / YAML document on stdout; perfdata: a "
                                    "run's latencies in ClusterLoader2's PerfData shape.")(wrapper)
    return wrapper  # type: ignore[return-value]


def _store(path: Path | None) -> Any:
    from scalelab.store.duckdb_store import Store

    return Store(path, on_wait=lambda why: click.echo(f"scalelab: {why}", err=True))


def _emit(doc: Any, fmt: str, view: Callable[[Any], None]) -> None:
    """The command's document on stdout: as JSON, as YAML, or through its table view."""
    if fmt == "sarif":
        raise UserError("-o sarif is for check: its findings as SARIF 2.1.0")
    if fmt == "perfdata":
        from scalelab.perfdata import perfdata
        from scalelab.results import dumps

        if not (isinstance(doc, dict) and "summary" in doc):
            raise UserError("-o perfdata is for runs (run, show): ClusterLoader2's PerfData of their latencies")
        click.echo(dumps(perfdata(doc["summary"])))
    elif fmt == "json":
        from scalelab.results import dumps

        click.echo(dumps(doc))
    elif fmt == "yaml":
        from scalelab.render import to_yaml

        click.echo(to_yaml(doc), nl=False)
    else:
        view(doc)


class Commands(click.Group):
    """The command group: a mistyped command gets a suggestion; help lists the built-ins and
    where results go."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from scalelab.spec.suggest import did_you_mean

            ctx.fail(f"no such command {name!r}{did_you_mean(name, self.list_commands(ctx))}")
        return super().resolve_command(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from scalelab.scenarios import builtin_names
        from scalelab.store.duckdb_store import default_path

        with formatter.section("Built-in scenarios"):
            formatter.write_text(", ".join(builtin_names()) + " (or a path to a YAML file)")
        with formatter.section("Results store"):
            formatter.write_text(f"{default_path()} (set SCALELAB_STORE or --store to choose another)")


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scalelab")
def main() -> None:
    """What breaks when a Kubernetes cluster grows, why, and which setting fixes it."""


def _planned_end(scenario: Any) -> float:
    """The simulated time a scenario runs at most (a deploy ends earlier when every pod runs)."""
    from scalelab.sizing import estimate
    from scalelab.workload.load import longest_seconds

    total = 0.0
    pods = estimate(scenario).pods
    for phase in scenario.workload:
        if phase.kind == "deploy":
            total += pods / scenario.controller_manager.qps + phase.timeout
        elif phase.kind == "load":  # its duration, or its stages when it has none
            total += longest_seconds(phase, scenario.nodes)
        elif hasattr(phase, "duration"):
            total += phase.duration
        else:  # a phase that ends when its pods run (density): bounded by its timeout
            total += phase.timeout
    return total


def _progress(label: str, planned: float, forced: bool) -> tuple[Callable[[float], None] | None, Any]:
    """Progress on stderr: a bar of simulated time against the planned end on a terminal; off a
    terminal nothing, or with --progress one plain line per simulated minute."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from scalelab.render import console

        bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[sim]}"),
                       TimeElapsedColumn(), TimeRemainingColumn(), console=console(stderr=True), transient=True)
        task = bar.add_task(label, total=planned, sim="")
        bar.start()

        def show_bar(sim_time: float) -> None:
            bar.update(task, completed=sim_time, sim=f"{sim_time:,.0f} of at most {planned:,.0f} s simulated")

        return show_bar, bar
    if not forced:
        return None, None
    t0 = time.perf_counter()

    def show_line(sim_time: float) -> None:
        click.echo(f"{label}: {sim_time:,.0f} of at most {planned:,.0f} s simulated, "
                   f"{time.perf_counter() - t0:,.1f} s wall", err=True)

    return show_line, None


@main.command()
@click.argument("scenario", required=False)
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="Override a scenario value.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Random seed of the run.")
@click.option("--profile", default=None, help="Defaults to start from: k8s-1.5 or modern (like --set profile=).")
@click.option("--rerun", "rerun_ref", metavar="RUN", default=None, help="Run a stored run's inputs again.")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="Refuse runs estimated above SIZE (e.g. 8Gi); default: the memory this machine has available.")
@click.option("--progress", "force_progress", is_flag=True, help="Show progress on stderr even off a terminal.")
@common
def run(scenario: str | None, sets: tuple[str, ...], seed: int | None, profile: str | None, rerun_ref: str | None,
        max_memory: str | None, force_progress: bool, store_path: Path | None, fmt: str) -> None:
    """Simulate SCENARIO (a built-in name or a YAML file; default campaign-900)."""
    from scalelab import sizing
    from scalelab.runner import execute
    from scalelab.spec.units import parse_quantity

    store = _store(store_path)
    store.check()  # a bad store is found now, not after the simulation
    if rerun_ref is not None:
        if scenario or sets or seed is not None or profile:
            raise UserError("--rerun takes no scenario, --set, --seed or --profile: it runs the stored inputs")
        sc, inputs = _stored_inputs(store, rerun_ref)
    else:
        sc, inputs = _inputs(scenario, sets, seed, profile)
    try:
        limit = parse_quantity(max_memory) if max_memory is not None else None
    except ValueError:
        raise UserError(f"--max-memory: {max_memory!r} is not a size (e.g. 8Gi)") from None
    refused = sizing.refusal(sc, limit)
    if refused:
        raise UserError(refused)
    show, bar = _progress(sc.name, _planned_end(sc), force_progress)
    try:
        rec = execute(sc, show, inputs)
    finally:
        if bar is not None:
            bar.stop()
    store.save(rec, __version__)
    click.echo(f"stored as run {rec.run_id} in {store.path}", err=True)
    from scalelab import views
    from scalelab.trends import trends

    _emit({**rec.to_json(), "trends": trends(rec.measurements)}, fmt, views.run)


@main.command()
@click.argument("task", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scenario", "scenario", default="openstack-200-fixed", show_default=True,
              help="The cluster and cloud (a built-in or a YAML file); the task replaces its workload.")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="Override a scenario value.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Random seed of the run.")
@common
def rally(task: Path, scenario: str, sets: tuple[str, ...], seed: int | None, store_path: Path | None,
          fmt: str) -> None:
    """Run a Rally TASK file (JSON or YAML) against the simulated cloud; exit 1 when an SLA fails."""
    from scalelab import rally_report
    from scalelab.runner import execute, inputs_for
    from scalelab.scenarios import apply_patch, load
    from scalelab.spec.loader import read_document
    from scalelab.spec.rally_task import TaskError, parse

    if not task.is_file():
        raise UserError(f"{task}: no such task file")
    doc = read_document(task)
    try:
        parse(doc)
    except TaskError as err:
        raise UserError(f"{task}: {err}") from None
    store = _store(store_path)
    store.check()
    loaded = load(scenario, [*sets, *([f"seed={seed}"] if seed is not None else [])])
    if not loaded.scenario.openstack.enabled:
        raise UserError(f"{scenario}: openstack.enabled is false: a Rally task needs the cloud")
    sc = apply_patch(loaded.scenario, {"workload": [{"kind": "rally", "task": doc}]}, source=str(task))
    argv = ("scalelab", *sys.argv[1:]) if sys.argv and sys.argv[0].endswith("scalelab") else ("scalelab", "rally")
    rec = execute(sc, None, inputs_for(sc, loaded.file, loaded.overrides, argv))
    store.save(rec, __version__)
    click.echo(f"stored as run {rec.run_id} in {store.path}", err=True)
    out = rally_report.report(rec.measurements, sc, task.name)
    _emit(out, fmt, rally_report.view)
    if rally_report.sla_failed(out):
        sys.exit(1)


def _inputs(scenario: str | None, sets: tuple[str, ...], seed: int | None, profile: str | None) -> tuple[Any, Any]:
    from scalelab.runner import inputs_for
    from scalelab.scenarios import load

    extra = [*([f"profile={profile}"] if profile else []), *sets, *([f"seed={seed}"] if seed is not None else [])]
    loaded = load(scenario, extra)
    argv = ("scalelab", *sys.argv[1:]) if sys.argv and sys.argv[0].endswith("scalelab") else ("scalelab", "run")
    return loaded.scenario, inputs_for(loaded.scenario, loaded.file, loaded.overrides, argv)


def _stored_inputs(store: Any, ref: str) -> tuple[Any, Any]:
    from scalelab.results import RunInputs
    from scalelab.scenarios import validate_document

    run_id = store.resolve(ref)
    stored = store.result(run_id).get("inputs")
    if not stored:
        raise UserError(f"run {run_id} was stored without its inputs (before scalelab kept them): run it anew")
    inputs = RunInputs.from_json(stored)
    return validate_document(inputs.document, f"run {run_id}"), inputs


@main.command()
@click.argument("entry_id")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="Parallel runs.")
@click.option("--layer", type=click.Choice(["kubernetes", "monitoring", "openstack"]), default=None,
              help="With 'all': only the entries of this layer.")
@common
def reproduce(entry_id: str, jobs: int, layer: str | None, store_path: Path | None, fmt: str) -> None:
    """Run ENTRY_ID (or 'all') broken and fixed, next to the report's figures."""
    from scalelab import views
    from scalelab.catalogue.registry import ENTRIES
    from scalelab.reproduce import reproduce as do_reproduce

    if layer is not None and entry_id != "all":
        raise UserError("--layer: only with 'all' (an entry has its own layer)")
    ids = [i for i, e in ENTRIES.items() if layer in (None, e.layer)] if entry_id == "all" \
        else [_entry_id(entry_id, ENTRIES)]
    store = _store(store_path)
    store.check()
    stored: list[str] = []

    def keep(rec: Any) -> None:
        store.save(rec, __version__)
        stored.append(rec.run_id)

    results = do_reproduce(ids, jobs=jobs, on_record=keep)
    for doc in results:
        if doc["status"] != "not_modelled":
            store.save_reproduction(doc)
    if stored:
        click.echo(f"stored {len(stored)} runs in {store.path}", err=True)
    _emit(results if entry_id == "all" else results[0], fmt,
          lambda doc: views.reproductions(doc if isinstance(doc, list) else [doc]))
    if any(r["status"] != "reproduced" for r in results):
        sys.exit(EXIT_FINDINGS)


def _entry_id(entry_id: str, entries: dict[str, Any]) -> str:
    if entry_id not in entries:
        from scalelab.spec.suggest import did_you_mean

        raise UserError(f"{entry_id}: unknown catalogue id{did_you_mean(entry_id, entries)} (see 'scalelab catalogue')")
    return entry_id


@main.command()
@click.argument("entry_id", required=False)
@common
def catalogue(entry_id: str | None, store_path: Path | None, fmt: str) -> None:
    """List the catalogue, or show one entry."""
    from scalelab import views
    from scalelab.catalogue.registry import ENTRIES

    chosen = [ENTRIES[_entry_id(entry_id, ENTRIES)]] if entry_id else list(ENTRIES.values())
    docs: list[dict[str, Any]] = [
            {"id": e.id, "title": e.title, "layer": e.layer, "status": "modelled" if e.modelled else "not_modelled",
             "symptoms": e.symptoms, "cause": e.cause, "fix": e.fix_text, "patch": dict(e.patch or {}),
             "broken": dict(e.broken or {}), "references": list(e.references),
             "context": dict(e.reproduction.context) if e.reproduction else {},
             "bands": [{"run": b.run, "metric": b.metric, "low": b.low, "high": b.high,
                        "source": f"{b.source}: {b.note}"} for b in e.bands],
             "not_modelled_reason": e.not_modelled_reason if not e.modelled else None} for e in chosen]
    if entry_id:
        _emit(docs[0], fmt, views.catalogue_entry)
    else:
        _emit(docs, fmt, views.catalogue)


@main.command()
@click.argument("data", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="Parallel runs.")
@click.option("--profile", "profile", type=click.Choice(["k8s-1.5", "k8s-1.5-priors", "modern"]), default=None,
              help="Run every row on this profile instead of its scenario's (k8s-1.5-priors: before calibration).")
@common
def fidelity(data: tuple[Path, ...], jobs: int, profile: str | None, store_path: Path | None, fmt: str) -> None:
    """Every calibration row (DATA files; default the shipped ones): model against measurement."""
    from rich.table import Table

    from scalelab.calibration.fidelity import evaluate
    from scalelab.calibration.rows import load_rows
    from scalelab.render import console, value

    doc = evaluate(load_rows(list(data) or None), jobs=jobs, overrides={"profile": profile} if profile else None)

    def view(d: dict[str, Any]) -> None:
        table = Table("row", "role", "component", "metric", "observed", "model", "ratio", "within 2x")
        for r in d["rows"]:
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
            table.add_row(r["id"], r["role"], r["component"], r["metric"], value(r["metric"], r["observed"]),
                          value(r["metric"], r["model"]), ratio, "yes" if r["within_2x"] else "NO")
        out = console()
        out.print(table)
        for role, share in d["within_2x"].items():
            out.print(f"{role} rows within 2x: {'-' if share is None else f'{100 * share:.0f} %'}")
        out.print(f"note: {d['note']}")

    _emit(doc, fmt, view)


@main.command()
@click.argument("data", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fit", "fit_paths", required=True, metavar="PATH[,PATH...]",
              help="Spec paths of the costs to fit (e.g. scheduler.per_node_cpu_seconds).")
@click.option("--loo", is_flag=True, help="Leave-one-out errors of the train rows (one refit per row).")
@click.option("--write", "write_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the fitted values as a profile overlay (YAML) with their provenance.")
@click.option("--update", is_flag=True,
              help="With --write: keep the overlay's other values (a fit of another group of costs).")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="Parallel runs for checks.")
@common
def calibrate(data: tuple[Path, ...], fit_paths: str, loo: bool, write_path: Path | None, update: bool, jobs: int,
              store_path: Path | None, fmt: str) -> None:
    """Fit cost parameters on the train rows of DATA (default the shipped rows); report every row."""
    import yaml

    from scalelab.calibration import fit as fitting
    from scalelab.calibration.fidelity import evaluate
    from scalelab.calibration.rows import load_rows

    rows = load_rows(list(data) or None)
    train = [r for r in rows if r.role == "train"]
    if not train:
        raise UserError("no train rows in the calibration data: nothing to fit (held-out rows are checks only)")
    paths = [p.strip() for p in fit_paths.split(",") if p.strip()]
    try:
        result = fitting.fit(train, paths)
    except KeyError as exc:
        raise UserError(f"--fit: {exc.args[0]}: not a cost of the spec") from None
    doc = evaluate(rows, jobs=jobs, overrides=result.params)
    doc["params"] = {p: {"value": v, "prior": result.priors[p], "low": result.priors[p] / fitting.SPAN,
                         "high": result.priors[p] * fitting.SPAN, "source": f"fit on {', '.join(result.rows)}"}
                     for p, v in result.params.items()}
    if loo:
        errors = fitting.leave_one_out(train, paths, jobs=jobs)
        doc["loo_log_error"] = sum(errors.values()) / len(errors) if errors else None
        doc["loo"] = errors
    if write_path is not None:
        written = fitting.overlay(result)
        if update and write_path.exists():
            written = fitting.merged(yaml.safe_load(write_path.read_text(encoding="utf-8")), written)
        write_path.write_text(yaml.safe_dump(written, sort_keys=False))
        click.echo(f"wrote profile overlay {write_path}", err=True)

    def view(d: dict[str, Any]) -> None:
        from scalelab.render import console

        out = console()
        for path, p in d["params"].items():
            out.print(f"{path}: {p['value']:.4g} (prior {p['prior']:.4g}, bounds {p['low']:.3g}..{p['high']:.3g})")
        for r in d["rows"]:
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
            out.print(f"  {r['role']:5} {r['id']}: observed {r['observed']:.4g}, model {r['model']}, ratio {ratio}")
        for row_id, error in (d.get("loo") or {}).items():
            out.print(f"  left out {row_id}: x{math.exp(error):.3g}")
        out.print(f"within 2x: {d['within_2x']}; leave-one-out mean |log error|: {d['loo_log_error']}")

    _emit(doc, fmt, view)


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
    from rich.table import Table

    from scalelab.render import console, value
    from scalelab.schedule import dry_run

    result = dry_run(nodes_path, pods_path, existing_path, generation)
    messages = result.pop("messages")
    for note in result.pop("notes"):
        click.echo(f"scalelab: note: {note}", err=True)

    def view(doc: dict[str, Any]) -> None:
        table = Table("pod", "node")
        for key, node in doc["placements"].items():
            table.add_row(key, node if node is not None else f"[red]unschedulable[/]: {messages[key]}")
        console().print(table)

    _emit(result, fmt, view)
    click.echo(f"simulated scheduling time: {value('sim_seconds', result['sim_seconds_per_pod'])} per pod", err=True)
    if result["unschedulable"]:
        sys.exit(EXIT_FINDINGS)


@main.command()
@common
def runs(store_path: Path | None, fmt: str) -> None:
    """List stored runs, oldest first."""
    from scalelab import views

    _emit(_store(store_path).runs(), fmt, views.runs)


@main.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--recompute", is_flag=True,
              help="Summarise the stored measurements again (today's metric definitions and detectors).")
@common
def show(run_ref: str, recompute: bool, store_path: Path | None, fmt: str) -> None:
    """Show a stored run (id or unique prefix)."""
    from scalelab import views

    store = _store(store_path)
    run_id = store.resolve(run_ref)
    doc = store.result(run_id)
    if recompute:
        from scalelab.assess import reassess

        try:
            measurements = store.measurements(run_id)
        except KeyError as exc:
            raise UserError(f"run {exc.args[0]}") from None
        summary, findings = reassess(store.document(run_id), *measurements)
        doc["summary"], doc["findings"] = summary, [f.to_json() for f in findings]
    from scalelab.trends import trends

    with contextlib.suppress(KeyError):  # stored without its measurements: no trends
        doc["trends"] = trends(store.measurements(run_id)[0])
    _emit(doc, fmt, views.run)


# the commands of scalelab.cli_tools register themselves on ``main``
from scalelab import cli_tools  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    # run as ``python -m scalelab.cli``: the commands registered on the imported module's group
    from scalelab.cli import main as registered

    registered()
