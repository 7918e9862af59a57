"""``scalelab onsets``: from which size each size-dependent entry does harm, by running the model.

Each size-dependent entry's reproduction, broken, is run at every size of a ladder (the
Kubernetes campaign by worker hosts, the OpenStack lab by computes; sizes counted in Kubernetes
nodes, as ``check --nodes`` counts them); a size is *harmful* when the entry's detector fires
and its ``harm`` holds (when it has one). The whole ladder is run, not a bisection: the table
shows every size and whether harm is monotone in size, the assumption an onset rests on.
Same seed, same table: the acceptance regenerates it and compares it with the committed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scalelab.catalogue.entry import Entry, RunView
from scalelab.catalogue.onsets import TABLE_FILE, Onset
from scalelab.catalogue.registry import ENTRIES
from scalelab.reproduce import scenarios_for
from scalelab.runner import RunRecord, execute
from scalelab.scenarios import apply_patch
from scalelab.spec.model import Scenario
from scalelab.sweep import run_all

#: worker hosts of the Kubernetes campaign (5 VMs each: 50 .. 1800 nodes; the report's 900 and twice it)
KUBERNETES_HOSTS = (10, 20, 50, 100, 180, 360)
#: computes of the OpenStack lab (the report's 200 the largest: its slices are one per compute)
OPENSTACK_COMPUTES = (10, 25, 50, 100, 200)
TABLE_PATH = Path(__file__).parent / "catalogue" / TABLE_FILE


def size_dependent() -> list[Entry]:
    return [e for e in ENTRIES.values() if e.size_dependent and e.modelled]


def ladder(broken: Scenario) -> list[Scenario]:
    """The broken scenario at every size of its ladder, smallest first."""
    if broken.openstack.enabled:
        patches = [{"openstack.computes": c} for c in OPENSTACK_COMPUTES]
    else:
        patches = [{"topology.worker_hosts": h} for h in KUBERNETES_HOSTS]
    out = []
    for patch in patches:
        sized = apply_patch(broken, patch, source="onset ladder")
        out.append(sized.model_copy(update={"name": f"{broken.name}@{sized.nodes}"}))
    return out


def judge(entry: Entry, record: RunRecord, scenario: Scenario) -> tuple[bool, bool]:
    """(detected, harmful) for one run."""
    assert entry.detect is not None
    view = RunView(record.summary, record.counters, scenario)
    detected = entry.detect(view) is not None
    return detected, detected and (entry.harm is None or entry.harm(view))


def generate(entries: Sequence[Entry], jobs: int = 2,
             run: Callable[[Scenario], RunRecord] = execute) -> dict[str, Onset]:
    """Every entry's ladder run (the largest runs first, ``jobs`` in parallel)."""
    plans = {e.id: ladder(scenarios_for(e)[0]) for e in entries}
    work = sorted((s for runs in plans.values() for s in runs), key=lambda s: s.nodes, reverse=True)
    # the model's runs on sweep's pool; another ``run`` (a test's stand-in) in this process
    done = run_all(work, jobs) if run is execute else [run(s) for s in work]
    records = {s.name: rec for s, rec in zip(work, done, strict=True)}
    table = {}
    for entry in entries:
        judged = [judge(entry, records[s.name], s) for s in plans[entry.id]]
        table[entry.id] = Onset(entry.id, tuple(s.nodes for s in plans[entry.id]),
                                tuple(d for d, _h in judged), tuple(h for _d, h in judged))
    return table


def document(table: dict[str, Onset]) -> dict[str, Any]:
    return {"generated_by": "scalelab onsets --write",
            "ladders": {"kubernetes_worker_hosts": list(KUBERNETES_HOSTS),
                        "openstack_computes": list(OPENSTACK_COMPUTES)},
            "entries": {k: table[k].json() for k in sorted(table)}}


def dumps(table: dict[str, Onset]) -> str:
    return json.dumps(document(table), indent=1, sort_keys=True) + "\n"
