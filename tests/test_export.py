"""``scalelab export``: OpenMetrics a real Prometheus loads, Parquet (issue: reports, export)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from conftest import small
from scalelab.cli import main
from scalelab.export import openmetrics
from scalelab.runner import execute
from scalelab.store.duckdb_store import Store

START = 1_481_414_400.0  # 2016-12-11 00:00 UTC


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    store = Store(tmp_path_factory.mktemp("export") / "runs.duckdb")
    rec = execute(small(steady="60s"))
    store.save(rec, "test")
    return store, rec.run_id


def test_the_export_reads_back_as_the_stored_series(stored: tuple[Store, str]) -> None:
    store, run_id = stored
    m, window = store.measurements(run_id)
    text = openmetrics(m, START, window.run_end)
    assert text.endswith("# EOF\n")
    read = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            key = sample.name + (f"{{{labels}}}" if labels else "")
            read[(key, round(float(sample.timestamp) - START, 3))] = sample.value
    for t, name, v in m.samples:
        assert read[(name, round(t, 3))] == pytest.approx(v)
    for name in m.counters:
        assert any(key[0] == name for key in read), name  # every counter is exported


def test_promtool_loads_the_export_into_a_tsdb(stored: tuple[Store, str], tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        # .ci/run installs it and sets SCALELAB_REQUIRE_PROMTOOL: there its absence fails the run
        assert not os.environ.get("SCALELAB_REQUIRE_PROMTOOL"), "promtool is missing (Debian's prometheus package)"
        pytest.skip("promtool is not installed here (Debian's prometheus package; .ci/run installs it)")
    store, run_id = stored
    out = tmp_path / "run.om"
    result = CliRunner().invoke(main, ["export", run_id, "--openmetrics", str(out), "--start",
                                       "2016-12-11T00:00:00+00:00", "--parquet", str(tmp_path / "pq"),
                                       "--store", str(store.path)])
    assert result.exit_code == 0, result.output
    done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(out), str(tmp_path / "tsdb")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "tsdb").iterdir())
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT count(*) FROM '{tmp_path / 'pq' / 'series.parquet'}'").fetchone()
    assert rows is not None and rows[0] == len(store.measurements(run_id)[0].samples)


def test_export_needs_a_target(stored: tuple[Store, str]) -> None:
    store, run_id = stored
    result = CliRunner().invoke(main, ["export", run_id, "--store", str(store.path)])
    assert result.exit_code == 2
