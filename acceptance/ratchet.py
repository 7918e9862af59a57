"""Full-scale acceptance ratchet: `scalelab reproduce all` must not crash, and every id in
acceptance/reproduced.txt must still report `reproduced`. Honest gaps do not fail CI."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    listed = [line.strip() for line in (HERE / "reproduced.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
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
    status = {r["id"]: r["status"] for r in results}
    for r in results:
        note = f" ({r['gap']})" if r.get("gap") and r["status"] != "not_modelled" else ""
        print(f"{r['id']}: {r['status']}{note}")
    lost = [i for i in listed if status.get(i) != "reproduced"]
    newly = [i for i, s in status.items() if s == "reproduced" and i not in listed]
    if newly:
        print(f"acceptance: newly reproduced, add to acceptance/reproduced.txt: {', '.join(newly)}")
    if lost:
        print(f"acceptance: FAILED, no longer reproduced: {', '.join(lost)}", file=sys.stderr)
        return 1
    print(f"acceptance: ok ({sum(s == 'reproduced' for s in status.values())} reproduced, "
          f"{sum(s == 'gap' for s in status.values())} gap, "
          f"{sum(s == 'not_modelled' for s in status.values())} not modelled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
