"""Fixed-seed golden output: a small campaign's run document, byte for byte (but wall time).

Regenerate after an intended model change with ``SCALELAB_REGEN_GOLDEN=1 python3 -m pytest
tests/test_golden.py`` and say why in the commit. Compared within one environment (CI
installs from constraints.txt).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import small
from scalelab.runner import dumps, execute

GOLDEN = Path(__file__).parent / "golden" / "small_campaign.json"


def test_small_campaign_matches_golden() -> None:
    doc = execute(small(deploy=True, steady="1m")).to_json()
    doc.pop("wall_seconds")
    text = dumps(doc) + "\n"
    if os.environ.get("SCALELAB_REGEN_GOLDEN"):
        GOLDEN.write_text(text)
    assert json.loads(text) == json.loads(GOLDEN.read_text())
    assert text == GOLDEN.read_text()
