"""The results store: one DuckDB file; one run = one transaction.

DuckDB commits through its write-ahead log, so a process killed at any moment (SIGKILL
included) leaves either the whole run or no trace of it. DuckDB allows one writing process:
pool workers return ``RunRecord``s and the parent writes them. Another process's hold on the
file (a neighbouring run saving, a listing) is waited for (``LOCK_WAIT_SECONDS``), so a finished
run is not lost because the store was busy. A run id already stored is
replaced (same inputs, same id). Besides the run's JSON, the store keeps every measurement
(counters, end-of-run values, distributions, samples, events) and the window, so a stored run
can be summarised again (``measurements`` + ``window``). It imports ``results`` only.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import platformdirs

from scalelab.results import Distribution, Measurements, RunEvent, RunRecord, Window

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, scenario VARCHAR, profile VARCHAR, seed BIGINT,
    scenario_hash VARCHAR, version VARCHAR, started VARCHAR, wall_seconds DOUBLE,
    sim_seconds DOUBLE, events BIGINT, document VARCHAR, result VARCHAR);
CREATE TABLE IF NOT EXISTS summaries (run_id VARCHAR, metric VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS series (run_id VARCHAR, time DOUBLE, metric VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS events (run_id VARCHAR, time DOUBLE, kind VARCHAR, detail VARCHAR);
CREATE TABLE IF NOT EXISTS counters (run_id VARCHAR, name VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS finals (run_id VARCHAR, name VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS distributions (run_id VARCHAR, name VARCHAR, "values" DOUBLE[], weights DOUBLE[]);
CREATE TABLE IF NOT EXISTS distribution_data (run_id VARCHAR, name VARCHAR, "values" BLOB, weights BLOB);
CREATE TABLE IF NOT EXISTS distribution_zlib (run_id VARCHAR, name VARCHAR, "values" BLOB, weights BLOB);
CREATE TABLE IF NOT EXISTS windows (run_id VARCHAR, sample_every DOUBLE, start DOUBLE, "end" DOUBLE,
                                    run_end DOUBLE);
CREATE TABLE IF NOT EXISTS sweep_runs (sweep_id VARCHAR, run_id VARCHAR, params VARCHAR);
CREATE TABLE IF NOT EXISTS reproductions (entry_id VARCHAR, doc VARCHAR);
"""
TABLES = ("runs", "summaries", "series", "events", "counters", "finals", "distributions", "distribution_data",
          "distribution_zlib", "windows")
#: Byte order of the stored observation arrays (float64).
FLOATS = np.dtype("<f8")
#: zlib level of the stored observation arrays: level 1 packs a 10,000-node run's 48 MB of
#: latencies and weights into 3.3 MB in 0.2 s (a simulation's latencies repeat exact values;
#: most weights are 1); higher levels gain little and cost seconds at 100,000 nodes.
ZLIB_LEVEL = 1
#: How long opening the store waits while another process holds it (DuckDB lets one process
#: open a file for writing, and that excludes every other process): a run finishing while a
#: neighbouring run saves, or while someone lists the runs, must still land. Holds are short
#: (a million-pod run saves in seconds), so the wait is long before it gives up.
LOCK_WAIT_SECONDS = 600.0


def pack(values: np.ndarray) -> bytes:
    """An observation array as the store keeps it: float64, little-endian, zlib-compressed."""
    return zlib.compress(np.ascontiguousarray(values, dtype=FLOATS).tobytes(), ZLIB_LEVEL)


def unpack(blob: bytes) -> np.ndarray:
    """The observation array ``pack`` stored (a writable float64 array of the host's order)."""
    return np.frombuffer(zlib.decompress(blob), dtype=FLOATS).astype(np.float64)


class StoreError(Exception):
    """The store file cannot be used (not a DuckDB file, locked, unwritable)."""


def default_path() -> Path:
    env = os.environ.get("SCALELAB_STORE")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("scalelab")) / "results.duckdb"


def _held_by_another_process(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


class Store:
    def __init__(self, path: Path | str | None = None, lock_wait_seconds: float = LOCK_WAIT_SECONDS,
                 on_wait: Callable[[str], None] | None = None) -> None:
        """``on_wait`` is told once, with the reason, when an open has to wait for another
        process's hold on the file (the CLI says so on stderr)."""
        self.path = Path(path) if path is not None else default_path()
        self.lock_wait_seconds = lock_wait_seconds
        self.on_wait = on_wait

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Connect, waiting (with backoff to 1 s) while another process holds the file."""
        deadline = time.monotonic() + self.lock_wait_seconds
        pause = 0.02
        told = False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as exc:
                if not _held_by_another_process(exc) or time.monotonic() >= deadline:
                    raise
                if not told and self.on_wait is not None:
                    self.on_wait(f"{self.path}: another process holds the results store; waiting up to "
                                 f"{self.lock_wait_seconds:g} s")
                    told = True
            time.sleep(pause)
            pause = min(1.0, 2 * pause)

    def _create(self) -> None:
        """A new store appears whole: its schema is written to a file of this process and
        linked into place, so a writer killed while creating it leaves no store without
        tables (a reader would take that for a file that is not a store). Linking, not
        renaming: a store another process created meanwhile is kept."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        try:
            con = duckdb.connect(str(tmp))
            try:
                con.execute(SCHEMA)
            finally:
                con.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)

    @contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.exists():
            con = duckdb.connect(":memory:")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists():
                    self._create()
                con = self._open(read_only)
            except (duckdb.Error, OSError) as exc:
                raise StoreError(f"{self.path}: cannot open results store ({str(exc).splitlines()[0]})") from None
        try:
            # DuckDB draws a progress bar on stdout for a statement over 2 s (a million-pod run's
            # observations): it would corrupt ``--format json``, which owns stdout.
            con.execute("SET enable_progress_bar = false")
            if not read_only or not self.path.exists():
                con.execute(SCHEMA)
            yield con
        except duckdb.CatalogException:
            raise StoreError(f"{self.path}: not a scalelab results store") from None
        finally:
            con.close()

    def save(self, rec: RunRecord, version: str) -> None:
        """Write one run atomically, replacing a stored run of the same id."""
        result = json.dumps(rec.to_json(), allow_nan=False)
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in TABLES:
                    con.execute(f"DELETE FROM {table} WHERE run_id = ?", [rec.run_id])
                con.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [rec.run_id, rec.scenario, rec.profile, rec.seed, rec.scenario_hash, version, rec.started,
                     rec.wall_seconds, rec.sim_seconds, rec.events, json.dumps(rec.document), result])
                if rec.summary:
                    con.executemany("INSERT INTO summaries VALUES (?, ?, ?)",
                                    [[rec.run_id, k, v] for k, v in rec.summary.items()])
                if rec.series:
                    con.executemany("INSERT INTO series VALUES (?, ?, ?, ?)",
                                    [[rec.run_id, t, m, v] for t, m, v in rec.series])
                if rec.measurements.events:
                    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)",
                                    [[rec.run_id, e.time, e.kind, e.detail] for e in rec.measurements.events])
                self._save_measurements(con, rec)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def export_parquet(self, run_id: str, directory: Path) -> list[Path]:
        """A run's series and events as Parquet files (``series.parquet``, ``events.parquet``),
        each written beside and renamed into place."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        with self._connect(read_only=True) as con:
            for table, columns in (("series", "time, metric, value"), ("events", "time, kind, detail")):
                final = directory / f"{table}.parquet"
                tmp = directory / f".{table}.parquet.tmp"
                con.execute(f"COPY (SELECT {columns} FROM {table} WHERE run_id = ? ORDER BY rowid) "
                            f"TO '{tmp.as_posix()}' (FORMAT PARQUET)", [run_id])
                tmp.replace(final)
                written.append(final)
        return written

    def save_reproduction(self, doc: dict[str, Any]) -> None:
        """Keep an entry's last reproduction document (its runs are stored as runs)."""
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM reproductions WHERE entry_id = ?", [doc["id"]])
            con.execute("INSERT INTO reproductions VALUES (?, ?)", [doc["id"], json.dumps(doc, allow_nan=False)])
            con.execute("COMMIT")

    def reproduction(self, entry_id: str) -> dict[str, Any]:
        with self._connect(read_only=True) as con:
            row = con.execute("SELECT doc FROM reproductions WHERE entry_id = ?", [entry_id]).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no stored reproduction of {entry_id} (run scalelab reproduce "
                             f"{entry_id} first)")
        data: dict[str, Any] = json.loads(row[0])
        return data

    def tag_sweep(self, sweep: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Name the runs of one sweep (or breakpoint search), with each run's parameters."""
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM sweep_runs WHERE sweep_id = ?", [sweep])
            con.executemany("INSERT INTO sweep_runs VALUES (?, ?, ?)",
                            [[sweep, run_id, json.dumps(params, sort_keys=True, default=str)]
                             for run_id, params in rows])
            con.execute("COMMIT")

    @staticmethod
    def _save_measurements(con: duckdb.DuckDBPyConnection, rec: RunRecord) -> None:
        m, w = rec.measurements, rec.window
        if m.counters:
            con.executemany("INSERT INTO counters VALUES (?, ?, ?)",
                            [[rec.run_id, k, v] for k, v in m.counters.items()])
        if m.finals:
            con.executemany("INSERT INTO finals VALUES (?, ?, ?)", [[rec.run_id, k, v] for k, v in m.finals.items()])
        # Observations as compressed float64 bytes: a million-pod run holds tens of millions of
        # them. As DOUBLE[] lists passed through Python objects they cost ~150 bytes each at the
        # write; as raw bytes DuckDB still held about 4.5 bytes of memory per byte written (a
        # 100,000-node run's save was its peak). Stores written before keep theirs readable:
        # ``distributions`` (DOUBLE[] lists) and ``distribution_data`` (raw bytes).
        for name, d in m.distributions.items():
            con.execute("INSERT INTO distribution_zlib VALUES (?, ?, ?, ?)",
                        [rec.run_id, name, pack(d.values), pack(d.weights)])
        con.execute("INSERT INTO windows VALUES (?, ?, ?, ?, ?)",
                    [rec.run_id, m.sample_every, w.start, w.end, w.run_end])

    def measurements(self, run_id: str) -> tuple[Measurements, Window]:
        """A stored run's measurements and window, as the simulation handed them over."""
        with self._connect(read_only=True) as con:
            row = con.execute('SELECT sample_every, start, "end", run_end FROM windows WHERE run_id = ?',
                              [run_id]).fetchone()
            if row is None:
                raise KeyError(f"{run_id} (stored without its measurements: run it again)")
            m = Measurements(sample_every=float(row[0]))
            window = Window(float(row[1]), None if row[2] is None else float(row[2]), float(row[3]))
            q = "SELECT name, value FROM {} WHERE run_id = ? ORDER BY name"
            m.counters = {str(k): float(v) for k, v in con.execute(q.format("counters"), [run_id]).fetchall()}
            m.finals = {str(k): float(v) for k, v in con.execute(q.format("finals"), [run_id]).fetchall()}
            for name, values, weights in con.execute(
                    'SELECT name, "values", weights FROM distributions WHERE run_id = ? ORDER BY name',
                    [run_id]).fetchall():
                m.distributions[str(name)] = Distribution(np.asarray(values, dtype=np.float64),
                                                          np.asarray(weights, dtype=np.float64))
            for name, values, weights in con.execute(
                    'SELECT name, "values", weights FROM distribution_data WHERE run_id = ? ORDER BY name',
                    [run_id]).fetchall():
                m.distributions[str(name)] = Distribution(np.frombuffer(values, dtype=FLOATS).astype(np.float64),
                                                          np.frombuffer(weights, dtype=FLOATS).astype(np.float64))
            for name, values, weights in con.execute(
                    'SELECT name, "values", weights FROM distribution_zlib WHERE run_id = ? ORDER BY name',
                    [run_id]).fetchall():
                m.distributions[str(name)] = Distribution(unpack(values), unpack(weights))
            m.samples = [(float(t), str(k), float(v)) for t, k, v in con.execute(
                "SELECT time, metric, value FROM series WHERE run_id = ? ORDER BY rowid", [run_id]).fetchall()]
            m.events = [RunEvent(float(t), str(k), str(d)) for t, k, d in con.execute(
                "SELECT time, kind, detail FROM events WHERE run_id = ? ORDER BY rowid", [run_id]).fetchall()]
        return m, window

    def _json_column(self, column: str, run_id: str) -> dict[str, Any]:
        with self._connect(read_only=True) as con:
            row = con.execute(f"SELECT {column} FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            raise KeyError(run_id)
        data: dict[str, Any] = json.loads(row[0])
        return data

    def document(self, run_id: str) -> dict[str, Any]:
        """The resolved scenario document a stored run simulated."""
        return self._json_column("document", run_id)

    def check(self) -> None:
        """Open the store for writing and check its schema now (before a run, not after it):
        a junk file, a read-only place or another program's database is a ``StoreError``."""
        with self._connect() as con:
            columns = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'").fetchall()}
        missing = {"run_id", "scenario", "seed", "document", "result"} - columns
        if missing:
            raise StoreError(f"{self.path}: not a scalelab results store (table runs lacks {sorted(missing)})")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise StoreError(f"{self.path}: results store is not writable")

    def runs(self) -> list[dict[str, Any]]:
        """Every stored run, oldest first, with what it simulated (nodes, pods, profile, overrides)."""
        with self._connect(read_only=True) as con:
            rows = con.execute(
                "SELECT run_id, scenario, seed, started, wall_seconds, profile, result FROM runs "
                "ORDER BY started, run_id").fetchall()
        out = []
        for r in rows:
            result = json.loads(r[6]) if r[6] else {}
            summary = result.get("summary") or {}
            inputs = result.get("inputs") or {}
            out.append({"run_id": r[0], "scenario": r[1], "seed": r[2], "started": r[3], "wall_seconds": r[4],
                        "nodes": summary.get("nodes"), "pods": summary.get("pods_running"), "profile": r[5],
                        "overrides": inputs.get("overrides", {})})
        return out

    def resolve(self, run: str) -> str:
        """A full run id from an id or a unique prefix of one (else a ``StoreError`` that
        lists the candidates)."""
        with self._connect(read_only=True) as con:
            rows = con.execute("SELECT run_id FROM runs WHERE run_id LIKE ? ORDER BY run_id",
                               [run.replace("%", "") + "%"]).fetchall()
        if not rows:
            raise StoreError(f"{self.path}: no run {run!r} (see 'scalelab runs')")
        if len(rows) > 1:
            shown = ", ".join(str(r[0]) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
            raise StoreError(f"{self.path}: {run!r} is ambiguous: {len(rows)} runs ({shown}); give more of the id")
        return str(rows[0][0])

    def result(self, run_id: str) -> dict[str, Any]:
        """A stored run's JSON (the shape of ``scalelab run --format json``)."""
        return self._json_column("result", run_id)

    def series(self, run_id: str) -> list[tuple[float, str, float]]:
        with self._connect(read_only=True) as con:
            rows = con.execute("SELECT time, metric, value FROM series WHERE run_id = ? ORDER BY metric, time",
                               [run_id]).fetchall()
        return [(float(t), str(m), float(v)) for t, m, v in rows]
