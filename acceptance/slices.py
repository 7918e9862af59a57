"""Acceptance: ``scalelab run openstack-200-fixed`` creates every compute's slice (issue: Heat
stacks and the report's workload slices). Exit 1 when a slice failed or the run crashed."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "scalelab.cli", "run", "openstack-200-fixed", "--format", "json",
                               "--store", f"{tmp}/runs.duckdb"], capture_output=True, text=True, check=False)
    try:
        summary = json.loads(proc.stdout)["summary"]
    except (json.JSONDecodeError, KeyError):
        print(f"acceptance: openstack-200-fixed printed no run document\n{proc.stderr}", file=sys.stderr)
        return 1
    complete, failed = summary["stacks_complete"], summary["stacks_failed"]
    print(f"acceptance: openstack-200-fixed: {complete:g} slices complete, {failed:g} failed, "
          f"create p50 {summary['stack_create_seconds_p50']} s")
    computes = 200
    if complete != computes or failed:
        print(f"acceptance: FAILED, expected all {computes} slices complete", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
