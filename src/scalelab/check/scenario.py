"""``scalelab import``: the configuration the files hold, as a runnable scenario.

The document holds exactly what the files set (nothing from the report's own scenarios): the
``k8s-1.5`` profile's defaults lie under it, the workload is the report's (``campaign-900``'s,
or ``openstack-200``'s slices when the files configure OpenStack), and ``--nodes`` sizes the
cluster (pods per node unchanged). Each value is commented with its file and line; what the
files hold that the importer could not read (templates, unknown tags) is listed as a comment,
left at the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scalelab.check.audit import collect, configuration_patch, configure
from scalelab.check.provenance import Imported
from scalelab.spec.loader import file_builtin, validate
from scalelab.spec.profiles import nested


def _size(doc: dict[str, Any], nodes: int, openstack: bool) -> None:
    if openstack:
        cloud = doc.setdefault("openstack", {})
        cloud["computes"] = max(1, nodes - int(cloud.get("control_plane_nodes", 6)))
    else:
        doc.setdefault("topology", {}).update({"worker_hosts": max(1, -(-nodes // 5)), "vms_per_host": min(5, nodes)})


def document(paths: list[Path], nodes: int | None = None, name: str | None = None) -> tuple[dict[str, Any], Imported]:
    """The scenario document of the files (validated), and what was imported."""
    imported = collect(paths)
    configure(validate({"name": "import"}, "scalelab import"), imported)  # values the spec refuses: unknown
    values = configuration_patch(imported)
    openstack = bool(values.get("openstack.enabled"))
    doc: dict[str, Any] = {"name": name or (paths[0].stem if paths else "imported") or "imported",
                           "profile": "k8s-1.5", **nested(values)}
    report = file_builtin("openstack-200" if openstack else "campaign-900")
    doc["workload"] = report["workload"]
    found = [n for _f, n in imported.facts.get("nodes", [])]
    size = nodes or (max(found) if found else None)
    if size is not None:
        _size(doc, size, openstack)
    validate(doc, "the imported files")
    return doc, imported


def render(doc: dict[str, Any], imported: Imported) -> str:
    """The scenario as YAML, with where each value came from and what could not be read."""
    lines = ["# Imported by scalelab import from the files below; every other setting is the k8s-1.5",
             "# profile's default (an upstream default of the era).", "#"]
    for path in sorted(imported.values):
        where = [f"{s.file}:{','.join(map(str, s.lines))}" for s in imported.sources.get(path, []) if s.lines]
        origin = f"  ({'; '.join(where)})" if where else "  (decided by the files together, or by an absent option)"
        lines.append(f"# {path} = {imported.values[path]!r}{origin}")
    if imported.unknown:
        lines += ["#", "# Unknown (not read: why in brackets), left at the defaults:"]
        lines += [f"#   {u['path']}  ({u['file']}:{u['line'] or '?'}) [{u['why']}]" for u in imported.unknown_json()]
    unread = [f for f in imported.files if f.unreadable]
    if unread:
        lines += ["#", "# Files that could not be read:"] + [f"#   {f.path}: {f.unreadable}" for f in unread]
    return "\n".join(lines) + "\n" + yaml.safe_dump(doc, sort_keys=False)
