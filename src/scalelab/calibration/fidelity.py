"""``scalelab fidelity``: every calibration row, the model against the measurement.

The ratio is model / observed; a row is "within 2x" when 0.5 <= ratio <= 2. Train and check
rows are reported apart (CONTRACTS.md's shape). Rows run in parallel processes (each row is an
independent run), their order kept.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from scalelab.calibration.rows import Row, setup_key, summary

#: Said with every fidelity table: only the report-era profile is ever calibrated.
PROFILE_NOTE = ("the k8s-1.5 profile's costs are the fit shipped in calibration/overlays/k8s-1.5.yaml (its "
                "train rows and priors are listed there; k8s-1.5-priors runs without it); the modern profile keeps "
                "its bottom-up values (its calibration is later work)")


def evaluate(rows: list[Row], jobs: int = 2, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """CONTRACTS.md's fidelity document for ``rows`` under the profile in use (``overrides``:
    fitted values laid over it)."""
    # one run per distinct setup (rows of one setup read different metrics of the same run)
    keys = [setup_key(row, overrides) for row in rows]
    unique = list(dict.fromkeys(keys))
    if jobs > 1 and len(unique) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(unique))) as pool:
            summaries = dict(zip(unique, pool.map(summary, unique), strict=True))
    else:
        summaries = {key: summary(key) for key in unique}
    values = [summaries[key].get(row.metric) for row, key in zip(rows, keys, strict=True)]
    out_rows = []
    for row, value in zip(rows, values, strict=True):
        ratio = value / row.observed if value is not None else None
        out_rows.append({"id": row.id, "source": row.source, "component": row.component, "metric": row.metric,
                         "observed": row.observed, "model": value, "ratio": ratio, "role": row.role,
                         "within_2x": ratio is not None and 0.5 <= ratio <= 2.0,
                         "log_error": abs(math.log(ratio)) if ratio else None})
    within: dict[str, float | None] = {}
    for role in ("train", "check"):
        mine = [r for r in out_rows if r["role"] == role]
        within[role] = sum(bool(r["within_2x"]) for r in mine) / len(mine) if mine else None
    return {"params": {}, "rows": out_rows, "loo_log_error": None, "within_2x": within, "note": PROFILE_NOTE}
