"""The layering contracts (.importlinter) hold, and a backwards import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports")


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    assert LINT is not None, "import-linter is a dev dependency: pip install '.[dev]'"
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([LINT, "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=src,
                          capture_output=True, text=True, env=env, check=False)


def test_the_layers_hold() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "backwards"), [
    ("sim/engine.py", "import scalelab.simulation"),
    ("metrics/summary.py", "import scalelab.components.apiserver"),
    ("store/duckdb_store.py", "import scalelab.runner"),
    ("catalogue/entry.py", "import scalelab.components.objects"),
    ("components/etcd.py", "import scalelab.cluster.assembly"),
    ("spec/model.py", "import scalelab.catalogue.registry"),
])
def test_a_backwards_import_breaks_a_contract(tmp_path: Path, module: str, backwards: str) -> None:
    shutil.copytree(ROOT / "src" / "scalelab", tmp_path / "scalelab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "scalelab" / module
    target.write_text(target.read_text() + f"\n{backwards}  # scratch: a backwards import\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
