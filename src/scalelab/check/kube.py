"""Kubernetes manifests into the control plane's settings: kube-apiserver and kube-scheduler
static pods or Deployments (flags, image versions), kube-dns ReplicationControllers and
Deployments (replicas, dnsmasq's flags, the containers' limits).

Versions map to the scheduler generations the spec models: before 1.5.2 the O(N^2)
anti-affinity predicate (``1.5``), PR 37691's fix from 1.5.2 (``1.5.2``), ``modern`` from 1.12 on.
Static pods in one manifests folder share a host: which folders hold an apiserver and a
scheduler is a fact the audit reads across files.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from scalelab.check.files import get, key_line, keys, line, scalar
from scalelab.check.provenance import FileRead, Imported
from scalelab.spec.units import parse_quantity

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def generation(version: str) -> str | None:
    """The scheduler generation of a Kubernetes version string (``v1.5.1``, ``hyperkube:v1.4.6_coreos.0``)."""
    match = _VERSION.search(version)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    if (major, minor, patch) < (1, 5, 2):
        return "1.5"
    return "1.5.2" if (major, minor) < (1, 12) else "modern"


def _containers(doc: yaml.Node) -> list[yaml.Node]:
    spec = get(doc, "spec")
    template = get(spec, "template", "spec")
    node = get(template if template is not None else spec, "containers")
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _args(container: yaml.Node) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for field in ("command", "args"):
        node = get(container, field)
        if isinstance(node, yaml.SequenceNode):
            out.extend((str(scalar(n)), line(n)) for n in node.value if scalar(n) is not None)
    return out


def _component(args: list[tuple[str, int]], name: str) -> str | None:
    """Which control-plane binary a container runs: ``hyperkube apiserver``, ``kube-apiserver``."""
    words = [a.rsplit("/", 1)[-1] for a, _ in args if not a.startswith("-")] + [name]
    for component in ("apiserver", "scheduler", "controller-manager"):
        if component in words or f"kube-{component}" in words:
            return component
    return None


def _flag(args: list[tuple[str, int]], name: str) -> tuple[str, int] | None:
    for arg, at in args:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1], at
    return None


def read(doc: yaml.Node, display: str) -> Imported:
    out = Imported()
    kind = scalar(get(doc, "kind"))
    count = 0
    for container in _containers(doc):
        args = _args(container)
        component = _component(args, str(scalar(get(container, "name"))))
        image = get(container, "image")
        if component == "apiserver":
            count += _apiserver(args, out, display)
        elif component == "scheduler":
            version = scalar(image)
            gen = generation(str(version)) if version else None
            if gen is not None and image is not None:
                out.put("scheduler.generation", gen, display, [line(image)])
                count += 1
            out.facts.setdefault("schedulers", []).append(display)
        elif scalar(get(container, "name")) == "kubedns":
            count += _kubedns(doc, container, out, display)
        elif scalar(get(container, "name")) == "dnsmasq":
            count += _dnsmasq(container, args, out, display)
    if kind == "Pod" and any(_component(_args(c), str(scalar(get(c, "name")))) == "apiserver"
                             for c in _containers(doc)):
        out.facts.setdefault("apiservers", []).append(display)
    out.files.append(FileRead(display, f"kubernetes:{kind}", count))
    return out


def _apiserver(args: list[tuple[str, int]], out: Imported, display: str) -> int:
    inflight = _flag(args, "max-requests-inflight")
    if inflight is None:
        out.absent("apiserver.max_requests_inflight", display)
        return 0
    return int(out.put_parsed("apiserver.max_requests_inflight", inflight[0], int, display, inflight[1]))


def _limit(container: yaml.Node, resource: str) -> tuple[Any, int] | None:
    node = get(container, "resources", "limits", resource)
    return (scalar(node), line(node)) if node is not None else None


def _kubedns(doc: yaml.Node, container: yaml.Node, out: Imported, display: str) -> int:
    count = 0
    replicas = get(doc, "spec", "replicas")
    if replicas is not None:
        count += out.put_parsed("dns.replicas", scalar(replicas), int, display, line(replicas))
    for resource, path in (("cpu", "dns.kubedns_cpu_limit"), ("memory", "dns.kubedns_memory_limit")):
        found = _limit(container, resource)
        if found is not None:
            count += out.put_parsed(path, str(found[0]), parse_quantity, display, found[1])
    return count


def _dnsmasq(container: yaml.Node, args: list[tuple[str, int]], out: Imported, display: str) -> int:
    count = 0
    at = key_line(container, "args")
    args_line = [at] if at is not None else []
    for flag, path in (("dns-forward-max", "dns.dns_forward_max"), ("cache-size", "dns.cache_size")):
        found = _flag(args, flag)
        if found is None:
            out.absent(path, display, args_line)  # dnsmasq's own default applies
        else:
            count += out.put_parsed(path, found[0], int, display, found[1])
    cpu = _limit(container, "cpu")
    if cpu is None:
        out.values["dns.dnsmasq_cpu_limit"] = None
        out.absent("dns.dnsmasq_cpu_limit", display, [key_line(container, "name") or line(container)])
    else:
        out.put_parsed("dns.dnsmasq_cpu_limit", str(cpu[0]), parse_quantity, display, cpu[1])
        count += 1
    return count


def is_manifest(doc: yaml.Node) -> bool:
    return {"apiVersion", "kind"} <= set(keys(doc))
