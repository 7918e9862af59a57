"""The results store: atomic runs, replacement, SIGKILL safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import small
from scalelab import __version__
from scalelab.runner import execute
from scalelab.store.duckdb_store import Store, StoreError


def test_save_list_show_replace(store_path: str) -> None:
    store = Store(store_path)
    rec = execute(small(steady="30s"))
    store.save(rec, __version__)
    store.save(rec, __version__)  # same id replaces
    rows = store.runs()
    assert [r["run_id"] for r in rows] == [rec.run_id]
    assert store.result(store.resolve(rec.run_id[:6]))["summary"] == rec.summary
    assert len(store.series(rec.run_id)) == len(rec.series)
    with pytest.raises(StoreError, match="no run 'zzzz'"):
        store.resolve("zzzz")


def test_not_a_store(tmp_path: Path) -> None:
    bad = tmp_path / "x.duckdb"
    bad.write_text("hello")
    with pytest.raises(StoreError):
        Store(bad).runs()


WRITER = """
import sys
from conftest import small
from scalelab.runner import execute
from scalelab.store.duckdb_store import Store
rec = execute(small(steady="30s"))
store = Store(sys.argv[1])
i = 0
while True:
    rec.run_id = f"run{i:06d}"
    store.save(rec, "test")
    i += 1
"""


def test_sigkill_leaves_only_whole_runs(store_path: str) -> None:
    tests_dir = str(Path(__file__).parent)
    for delay in (1.5, 2.2, 3.1):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, store_path], cwd=tests_dir,
                                env={**os.environ, "PYTHONPATH": tests_dir})
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = Store(store_path)
        for row in store.runs():
            doc = store.result(row["run_id"])
            assert doc["summary"]  # a listed run is complete
            assert len(store.series(row["run_id"])) > 0


def test_a_store_killed_while_being_created_is_not_left_without_its_tables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the first open of a new store dies writing its schema (as a writer killed at that moment):
    # no file may be left that a later reader takes for "not a scalelab results store"
    from scalelab.store import duckdb_store

    path = tmp_path / "results.duckdb"
    with monkeypatch.context() as patched:
        patched.setattr(duckdb_store, "SCHEMA", "CREATE TABLE runs (")  # dies half-way
        with pytest.raises(StoreError):
            Store(path).save(execute(small(steady="5s")), __version__)
    assert list(tmp_path.iterdir()) == []
    assert Store(path).runs() == []  # and the next open creates it whole


def test_a_stored_run_is_summarised_again_to_the_same_figures(store_path: str) -> None:
    from scalelab.assess import reassess

    store = Store(store_path)
    rec = execute(small(deploy=True, steady="30s", extra={"faults": [{"kind": "restart_node", "at": 10}]}))
    store.save(rec, __version__)
    measurements, window = store.measurements(rec.run_id)
    assert window == rec.window
    assert measurements.finals == rec.measurements.finals
    summary, findings = reassess(store.document(rec.run_id), measurements, window)
    assert summary == rec.summary
    assert findings == rec.findings


@pytest.mark.parametrize("layout", ["lists", "raw bytes"])
def test_distributions_of_a_store_written_before_still_read(store_path: str, layout: str) -> None:
    """Stores written before observations were compressed hold them as DOUBLE[] lists
    (``distributions``) or as raw float64 bytes (``distribution_data``)."""
    import duckdb
    import numpy as np

    store = Store(store_path)
    rec = execute(small(deploy=True, steady="30s"))
    store.save(rec, __version__)
    name, dist = next(iter(rec.measurements.distributions.items()))
    con = duckdb.connect(store_path)
    con.execute("DELETE FROM distribution_zlib WHERE run_id = ? AND name = ?", [rec.run_id, name])
    if layout == "lists":
        con.execute("INSERT INTO distributions VALUES (?, ?, ?, ?)",
                    [rec.run_id, name, dist.values.tolist(), dist.weights.tolist()])
    else:
        con.execute("INSERT INTO distribution_data VALUES (?, ?, ?, ?)",
                    [rec.run_id, name, dist.values.astype("<f8").tobytes(), dist.weights.astype("<f8").tobytes()])
    con.close()
    measurements, _window = store.measurements(rec.run_id)
    assert set(measurements.distributions) == set(rec.measurements.distributions)
    for key, stored in measurements.distributions.items():
        assert np.array_equal(stored.values, rec.measurements.distributions[key].values)
        assert np.array_equal(stored.weights, rec.measurements.distributions[key].weights)


def test_observations_are_stored_compressed(store_path: str) -> None:
    """A run's latencies repeat exact values and its weights are mostly 1: the stored bytes are a
    fraction of the arrays' (what DuckDB holds in memory at the write follows the bytes)."""
    import duckdb

    store = Store(store_path)
    rec = execute(small(deploy=True, steady="30s"))
    store.save(rec, __version__)
    raw = sum(d.values.nbytes + d.weights.nbytes for d in rec.measurements.distributions.values())
    con = duckdb.connect(store_path, read_only=True)
    stored = con.execute('SELECT sum(octet_length("values") + octet_length(weights)) FROM distribution_zlib '
                         'WHERE run_id = ?', [rec.run_id]).fetchone()
    con.close()
    assert stored is not None and 0 < stored[0] < raw / 4


def test_the_store_never_draws_duckdbs_progress_bar_on_stdout(store_path: str) -> None:
    """A statement over 2 s (a million-pod run's save) drew it into ``--format json``'s output."""
    store = Store(store_path)
    for read_only in (False, True):
        with store._connect(read_only=read_only) as con:
            assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)


def test_importing_the_store_loads_no_simulator_component() -> None:
    code = ("import sys, scalelab.store; "
            "print(sorted(m for m in sys.modules if m.startswith(('scalelab.components', 'scalelab.simulation', "
            "'scalelab.sim.', 'scalelab.catalogue', 'scalelab.spec'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


#: holds the store open for writing (as another run's save does) until its stdin closes
HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def _hold(path: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_run_saved_while_another_process_holds_the_store_waits_and_lands(store_path: str) -> None:
    rec = execute(small(steady="30s"))
    Store(store_path).save(rec, __version__)  # the file exists: the holder opens a store
    holder = _hold(store_path)
    told: list[str] = []
    store = Store(store_path, lock_wait_seconds=60.0, on_wait=told.append)
    # the hold ends while the save waits
    threading.Timer(1.0, lambda: holder.stdin.close() if holder.stdin else None).start()
    store.save(rec, __version__)
    holder.wait(timeout=30)
    assert [r["run_id"] for r in store.runs()] == [rec.run_id]
    assert len(told) == 1 and "another process holds" in told[0]


def test_a_store_held_past_the_wait_is_a_clear_error(store_path: str) -> None:
    Store(store_path).save(execute(small(steady="30s")), __version__)
    holder = _hold(store_path)
    try:
        with pytest.raises(StoreError, match=r"cannot open results store.*lock"):
            Store(store_path, lock_wait_seconds=0.3).runs()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
