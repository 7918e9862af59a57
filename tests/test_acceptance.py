"""The CI ratchet: an entry once reproduced must stay reproduced; gaps do not fail CI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from scalelab.catalogue.registry import ENTRIES

RATCHET = Path(__file__).resolve().parents[1] / "acceptance" / "ratchet.py"


def _ratchet():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ratchet", RATCHET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lost_reproduction_fails_and_new_one_is_reported() -> None:
    ratchet = _ratchet()
    results = [{"id": "a", "status": "gap"}, {"id": "b", "status": "reproduced"}, {"id": "c", "status": "gap"}]
    lost, newly = ratchet.verdict(results, ["a"])
    assert lost == ["a"] and newly == ["b"]
    assert ratchet.verdict(results, ["b"]) == ([], [])


def test_listed_ids_are_catalogue_ids() -> None:
    assert set(_ratchet().listed_ids()) <= set(ENTRIES)
