"""Full-scale acceptance ratchet: `scalelab reproduce all` must not crash, and every id in
acceptance/reproduced.txt must still report `reproduced`. Honest gaps do not fail CI."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def verdict(results: list[dict[str, object]], listed: list[str]) -> tuple[list[str], list[str]]:
    """(ids listed but no longer reproduced, ids reproduced but not listed yet)."""
    status = {str(r["id"]): r["status"] for r in results}
    lost = [i for i in listed if status.get(i) != "reproduced"]
    newly = [i for i, s in status.items() if s == "reproduced" and i not in listed]
    return lost, newly


def listed_ids(path: Path = HERE / "reproduced.txt") -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def main() -> int:
    listed = listed_ids()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "scalelab.cli", "reproduce", "all", "--format", "json",
             "--store", str(Path(tmp) / "acceptance.duckdb")],
            capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        print(proc.stderr, file=sys.stderr)
        print(f"acceptance: reproduce all crashed (exit {proc.returncode})", file=sys.stderr)
        return 1
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print("acceptance: reproduce all printed no JSON document", file=sys.stderr)
        return 1
    for r in results:
        note = f" ({r['gap']})" if r.get("gap") and r["status"] != "not_modelled" else ""
        print(f"{r['id']}: {r['status']}{note}")
    lost, newly = verdict(results, listed)
    if newly:
        print(f"acceptance: newly reproduced, add to acceptance/reproduced.txt: {', '.join(newly)}")
    if lost:
        print(f"acceptance: FAILED, no longer reproduced: {', '.join(lost)}", file=sys.stderr)
        return 1
    counts = {s: sum(r["status"] == s for r in results) for s in ("reproduced", "gap", "unresolved", "not_modelled")}
    print(f"acceptance: ok ({counts['reproduced']} reproduced, {counts['gap']} gap, {counts['unresolved']} unresolved, "
          f"{counts['not_modelled']} not modelled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
