"""``scalelab check``: real deployment files against the catalogue (issue: ``scalelab check``).

Every file under the given paths is read by the importer its *content* calls for (not its
name), into one ``Imported``; facts that span files are decided (a scheduler's static pod in
the folder of an apiserver's shares its host; Calico's mesh unless a ``[calico-rr]`` group or
router peering); the values patch a scenario of upstream defaults, and every catalogue entry's
``rule`` runs on it. A finding is kept only when the files hold (or lack) one of the settings
the entry is about (its ``broken`` paths, its ``evidence_paths`` and the path its finding names):
a default nobody configured is not the user's file's issue. Its evidence names the file with the
most lines on those settings, and those lines (null: the setting is absent, a default applies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalelab.catalogue import onsets
from scalelab.catalogue.registry import ENTRIES
from scalelab.check import ansible, ccp, kube, nginx, oslo, requirements
from scalelab.check.files import MAX_TREE_BYTES, Unreadable, compose_all, read_text
from scalelab.check.provenance import FileRead, Imported, Source
from scalelab.results import Evidence, Finding
from scalelab.spec.loader import ScenarioError, apply_patch, validate
from scalelab.spec.model import Scenario

INI_SECTION = ("[DEFAULT]", "[database]", "[keystone_authtoken]", "[oslo_messaging_rabbit]")


@dataclass
class Report:
    findings: list[Finding]
    files: list[FileRead]
    scenario: Scenario
    imported: Imported

    def json(self) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.findings], "files": [f.json() for f in self.files],
                "unknown": self.imported.unknown_json()}


def _files(paths: list[Path]) -> list[tuple[Path, str, Path]]:
    """(file, how findings name it: relative to the path given, the root it is under)."""
    out: list[tuple[Path, str, Path]] = []
    for root in paths:
        if root.is_dir():
            out.extend((p, p.relative_to(root).as_posix(), root) for p in sorted(root.rglob("*")) if p.is_file())
        else:
            out.append((root, root.name, root))  # a file given alone: its includes are not followed
    return out


def _unreadable(display: str, why: str, kind: str = "unknown") -> Imported:
    out = Imported()
    out.files.append(FileRead(display, kind, 0, why))
    return out


def _dnsmasq_conf(_text: str, display: str) -> Imported:
    """A dnsmasq.conf: the node-local cache of the lab's Kargo, not kube-dns's dnsmasq, whose
    flags live in the kube-dns manifest (nothing here is a catalogue setting)."""
    out = Imported()
    out.files.append(FileRead(display, "dnsmasq", 0))
    return out


def _text_reader(text: str, path: Path) -> Callable[[str, str], Imported] | None:
    """The importer of a line-oriented format, judged from the content."""
    stripped = {line.strip() for line in text.splitlines()}
    if ansible.looks_like_inventory(text):
        return ansible.read_inventory
    if requirements.looks_like(text.splitlines()):
        return requirements.read
    if _dnsmasq(stripped):
        return _dnsmasq_conf
    if stripped & set(INI_SECTION) and "{" not in text:
        return lambda t, d: oslo.read(t, path.name, d)
    if ccp.mentions_prometheus(text) and "scrape_configs" not in text:
        return ccp.read_prometheus_deployment
    return None


def read_file(path: Path, display: str, root: Path | None = None) -> Imported:
    """One file through the importer its content calls for (``root``: the path given it is
    under, the limit of what an include may reach)."""
    roots = [root if root is not None else path]
    try:
        text = read_text(path)
    except (Unreadable, OSError) as error:
        return _unreadable(display, str(error))
    if len(text) > MAX_TREE_BYTES:  # parse trees cost tens of times the text: bound them
        return _unreadable(display, f"larger than {MAX_TREE_BYTES // 2**20} MiB: no deployment file of a kind "
                                    f"scalelab reads is that big")
    reader = _text_reader(text, path)
    if reader is not None:
        return reader(text, display)
    try:
        docs = compose_all(text)
    except Unreadable as error:
        return nginx.read(path, display, roots) if nginx.looks_like(text) else _unreadable(display, str(error))
    return _yaml(docs, text, path, display, roots)


DNSMASQ_OPTIONS = ("server=", "cache-size=", "listen-address=", "no-resolv", "addn-hosts=", "dns-forward-max=")


def _dnsmasq(lines: set[str]) -> bool:
    options = [line for line in lines if line and not line.startswith("#")]
    return bool(options) and sum(line.startswith(DNSMASQ_OPTIONS) for line in options) * 2 >= len(options)


def _yaml(docs: list[Any], text: str, path: Path, display: str, roots: list[Path]) -> Imported:
    out = Imported()
    for doc in docs:
        if ccp.is_include(doc):
            out.merge(ccp.read_include(doc, display, path))
        elif kube.is_manifest(doc):
            out.merge(kube.read(doc, display))
        elif ccp.is_topology(doc):
            out.merge(ccp.read_topology(doc, display))
        elif ccp.is_configs(doc):
            out.merge(ccp.read_configs(doc, display))
        elif ccp.is_prometheus(doc):
            out.merge(ccp.read_prometheus(doc, display))
        elif ansible.is_group_vars(doc):
            out.merge(ansible.read_group_vars(doc, display))
    if len({f.path for f in out.files}) < len(out.files):  # a multi-document file is one file
        out.files = [FileRead(display, "+".join(dict.fromkeys(f.kind for f in out.files)),
                              sum(f.values_read for f in out.files))]
    if not out.files:
        if nginx.looks_like(text):  # an nginx.conf may compose as one YAML scalar
            return nginx.read(path, display, roots)
        out.files.append(FileRead(display, "unknown", 0))
    return out


def _decide(imported: Imported) -> None:
    """Values that only several files together decide."""
    facts = imported.facts
    apiserver_dirs = {str(Path(f).parent) for f in facts.get("apiservers", [])}
    for scheduler in facts.get("schedulers", []):
        colocated = str(Path(scheduler).parent) in apiserver_dirs
        imported.values["placement.scheduler"] = "colocated" if colocated else "dedicated"
        imported.absent("placement.scheduler", scheduler)
    reflectors = [(f, n, at) for f, n, at in facts.get("calico_rr", []) if n]
    for display, lines, peering in facts.get("calico", []):
        if peering or reflectors:
            imported.values["calico.mode"] = "route_reflectors"
            for f, n, at in reflectors:
                imported.put("calico.route_reflectors", n, f, [at] if at else [])
        else:
            imported.put("calico.mode", "mesh", display, list(lines))
            imported.values["calico.route_reflectors"] = 0


#: the sizes a size-dependent rule is searched over for the one where it starts to matter
LARGEST = 100_000


def _sized(base: Scenario, nodes: int) -> Scenario:
    """The configuration at ``nodes`` Kubernetes nodes (with OpenStack on it: its control-plane
    nodes and as many computes as the rest)."""
    if base.openstack.enabled:
        computes = max(1, nodes - base.openstack.control_plane_nodes)
        return apply_patch(base, {"openstack.computes": computes}, source="size")
    return apply_patch(base, {"topology.worker_hosts": nodes, "topology.vms_per_host": 1}, source="size")


def _threshold(rule: Any, at: Callable[[int], Scenario]) -> int | None:
    """The smallest size at which a rule fires (bisection: rules are assumed monotone in size,
    as every size-dependent rule of the catalogue is), None when it never does. ``at`` gives
    the configuration at a size (memoised by the caller: the bisections of all rules visit the
    same sizes)."""
    if rule(at(LARGEST)) is None:
        return None
    low, high = 1, LARGEST
    while low < high:
        mid = (low + high) // 2
        if rule(at(mid)) is not None:
            high = mid
        else:
            low = mid + 1
    return low


def _size(imported: Imported, nodes: int | None) -> int | None:
    found = [n for _f, n in imported.facts.get("nodes", [])]
    return nodes or (max(found) if found else None)


def _patch(imported: Imported) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for path, value in imported.values.items():
        service, _, option = path.partition(".db.")
        if option:  # a service's own oslo.db pool is one section (None: the shared one)
            patch.setdefault(f"{service}.db", {})[option] = value
        else:
            patch[path] = value
    return patch


def _evidence_paths(entry_id: str, finding: Finding) -> list[str]:
    entry = ENTRIES[entry_id]
    paths = [*(entry.broken or {}), *entry.evidence_paths]
    if finding.evidence.metric:
        paths.append(finding.evidence.metric)
    return paths


def _where(sources: list[Source]) -> list[tuple[str, tuple[int, ...] | None]]:
    """Each file that sets one of the entry's settings, with its lines; when none sets one
    (every one absent, a default applies), the first file that would, with no line."""
    by_file: dict[str, set[int]] = {}
    for source in sources:
        by_file.setdefault(source.file, set()).update(source.lines or ())
    setting = sorted(f for f, lines in by_file.items() if lines)
    if setting:
        return [(f, tuple(sorted(by_file[f]))) for f in setting]
    return [(sorted(by_file)[0], None)]


def _with_onset(finding: Finding, onset: onsets.Onset, size: int | None) -> Finding:
    """A size-dependent finding with where the model shows its harm; below that size, info.
    Where the model shows none at any size tried, the severity stays: the files hold what the
    report fixed, and the model's silence is its gap, not a proof of safety."""
    ev = finding.evidence
    severity = finding.severity
    not_yet = ""
    if size is not None and onset.onset is not None and size < onset.onset:
        severity, not_yet = "info", f"at {size} nodes no harm yet: "
    value = f"{ev.value}; {not_yet}{onset.says()}" if ev.value else f"{not_yet}{onset.says()}"
    evidence = Evidence(file=ev.file, lines=ev.lines, value=value, metric=ev.metric, observed=ev.observed)
    return Finding(finding.id, severity, finding.title, evidence, finding.fix)


def _follow_includes(imported: Imported, roots: list[Path], read: set[Path]) -> None:
    """fuel-ccp's ``!include`` lists: files under a given path not read yet are read (and
    their own includes followed); a missing one, or one outside the paths given, is listed
    as unreadable with the include's line. ``read`` holds every file read so far: a loop
    reads nothing twice."""
    done = 0
    while done < len(imported.facts.get("ccp_includes", [])):
        display, including, name, at = imported.facts["ccp_includes"][done]
        done += 1
        target = (Path(including).parent / name).resolve()
        root = next((r for r in roots if target == r or target.is_relative_to(r)), None)
        why = None
        if root is None:
            why = f"included by {display}:{at}, outside the paths given: not read"
        elif not target.is_file():
            why = f"included by {display}:{at}: no such file"
        if why is not None:
            imported.files.append(FileRead(name, "ccp-include", 0, why))
            continue
        if target in read:
            continue
        read.add(target)
        assert root is not None
        shown = target.relative_to(root).as_posix() if root.is_dir() else target.name
        imported.merge(read_file(target, shown, root))


def collect(paths: list[Path]) -> Imported:
    """Every file under ``paths`` read (and the files fuel-ccp's includes name), and the
    values only several files decide."""
    imported = Imported()
    read: set[Path] = set()
    for path, display, root in _files(paths):
        read.add(path.resolve())
        imported.merge(read_file(path, display, root))
    _follow_includes(imported, [p.resolve() for p in paths], read)
    _decide(imported)
    return imported


def configuration_patch(imported: Imported) -> dict[str, Any]:
    """The imported values as a patch of dotted spec paths (a service's pool as one section)."""
    return _patch(imported)


def configure(base: Scenario, imported: Imported) -> Scenario:
    """``base`` with every imported value the spec accepts; a value it refuses (a duration
    that is not one, a negative count) becomes unknown, naming its file, line and why: one
    bad value never sinks the audit of the others."""
    patch = _patch(imported)
    try:
        return apply_patch(base, patch, source="the files")
    except ScenarioError:
        pass
    accepted: dict[str, Any] = {}
    for path, value in patch.items():
        try:
            apply_patch(base, {**accepted, path: value}, source="the files")
        except ScenarioError as error:
            sources = [s for p, ss in imported.sources.items() if p == path or p.startswith(path + ".")
                       for s in ss if s.lines]
            where = sources[-1] if sources else Source("the files")
            imported.not_readable(path, where.file, (where.lines or (0,))[0], str(error).split(": ", 1)[-1])
            for dropped in [p for p in imported.values if p == path or p.startswith(path + ".")]:
                del imported.values[dropped]
                imported.sources.pop(dropped, None)  # no finding rests on a value not read
            continue
        accepted[path] = value
    return apply_patch(base, accepted, source="the files")


def audit(paths: list[Path], nodes: int | None = None) -> Report:
    imported = collect(paths)
    base = validate({"name": "check"}, "scalelab check")
    configured = configure(base, imported)
    size = _size(imported, nodes)
    sized: dict[int, Scenario] = {}

    def at(nodes: int) -> Scenario:
        if nodes not in sized:
            sized[nodes] = _sized(configured, nodes)
        return sized[nodes]

    scenario = at(size) if size is not None else configured
    findings = []
    for entry in ENTRIES.values():
        if entry.rule is None:
            continue
        finding = entry.rule(scenario)
        small = entry.rule(at(1))
        if small is None and (finding is None or size is None):
            # size-dependent: where it starts to matter, as info (at the size found it does not
            # fire, or no size is known)
            start = _threshold(entry.rule, at)
            if start is None:
                continue
            found = entry.rule(at(start))
            assert found is not None
            not_yet = f"at {size} nodes it does not matter yet; " if size is not None else ""
            finding = Finding(found.id, "info", found.title,
                              Evidence(value=f"{not_yet}it matters from {start} nodes: {found.evidence.value}",
                                       metric=found.evidence.metric, observed=found.evidence.observed), found.fix)
        if finding is None:
            continue
        onset = onsets.table().get(entry.id) if entry.size_dependent else None
        if onset is not None:
            finding = _with_onset(finding, onset, size)
        sources = [s for p in _evidence_paths(entry.id, finding) for s in imported.sources.get(p, [])]
        if not sources:
            continue
        ev = finding.evidence
        for file, lines in _where(sources):
            evidence = Evidence(file=file, lines=lines, value=ev.value, metric=ev.metric, observed=ev.observed)
            findings.append(Finding(finding.id, finding.severity, finding.title, evidence, finding.fix))
    return Report(findings, imported.files, scenario, imported)
