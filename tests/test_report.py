"""``scalelab report``: the HTML page and its plots (issue: reports, export and sweeps); plots are
checked by structure (every image the page names exists, is a PNG of the declared size), not bytes."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import small
from scalelab.cli import main
from scalelab.report.plots import families, moved
from scalelab.runner import execute
from scalelab.store.duckdb_store import Store, StoreError


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))


def images_load(page: Path) -> int:
    parser = Images()
    parser.feed(page.read_text(encoding="utf-8"))
    for img in parser.images:
        with Image.open(page.parent / str(img["src"])) as png:
            assert png.format == "PNG" and png.size == (int(str(img["width"])), int(str(img["height"])))
    return len(parser.images)


def test_a_run_report_plots_every_family_that_moved(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.duckdb")
    rec = execute(small(steady="60s"))
    store.save(rec, "test")
    result = CliRunner().invoke(main, ["report", rec.run_id, "--html", str(tmp_path / "out"), "--store",
                                       str(store.path)])
    assert result.exit_code == 0, result.output
    page = tmp_path / "out" / "index.html"
    expected = sum(moved(series) for series in families(rec.measurements).values())
    assert expected > 0 and images_load(page) == expected
    text = page.read_text()
    assert "apiserver-reconnect-storm" in text and rec.run_id in text


def test_a_reproduction_report_overlays_broken_and_fixed_with_the_band(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.duckdb")
    broken = execute(small(steady="60s"))  # campaign-900's 3 s proxy timeout
    fixed = execute(small(steady="60s", extra={"node_proxy.proxy_timeout": "10m"}))
    for rec in (broken, fixed):
        store.save(rec, "test")
    metric = "node_proxy_reconnects_per_second"
    store.save_reproduction({
        "id": "apiserver-reconnect-storm", "status": "gap", "passed": False, "context": {}, "gap": "a test",
        "runs": {"broken": {"run_id": broken.run_id, "detected": True, "summary": broken.summary, "diff": {}},
                 "fixed": {"run_id": fixed.run_id, "detected": False, "summary": fixed.summary, "diff": {}}},
        "bands": [{"run": "broken", "metric": metric, "low": 1.0, "high": None,
                   "value": broken.summary[metric], "ok": True, "source": "measured: a test"}]})
    out = tmp_path / "rep"
    result = CliRunner().invoke(main, ["report", "--reproduction", "apiserver-reconnect-storm", "--html", str(out),
                                       "--store", str(store.path)])
    assert result.exit_code == 0, result.output
    assert images_load(out / "index.html") >= 2  # the band and at least one overlaid family
    assert "broken vs fixed" in (out / "index.html").read_text()


def test_a_report_of_nothing_stored_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no stored reproduction"):
        Store(tmp_path / "x.duckdb").reproduction("docker-hang")
    result = CliRunner().invoke(main, ["report", "--html", str(tmp_path / "o"), "--store", str(tmp_path / "x.db")])
    assert result.exit_code == 2


def test_trends_show_the_families_that_moved_as_sparklines() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from scalelab.trends import BARS, sparkline, trends

    rec = execute(small(steady="60s"))
    found = trends(rec.measurements)
    assert found and all(len(v) <= 40 and max(v) > min(v) for v in found.values())
    assert set(found) == {f for f, s in families(rec.measurements).items() if moved(s)}

    @given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
    def ordered(values: list[float]) -> None:
        line = sparkline(values)
        assert len(line) == len(values)
        ranks = [BARS.index(c) for c in line]
        for a, b, ra, rb in zip(values, values[1:], ranks, ranks[1:], strict=False):
            if a < b:
                assert ra <= rb

    ordered()
