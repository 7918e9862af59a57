"""Kargo (kubespray) inventories and group vars.

group_vars: ``kube_version`` (the scheduler generation it deploys) and Calico's mode: Kargo keeps
calico's node-to-node mesh unless ``peer_with_router`` is true or the inventory's ``[calico-rr]``
group has hosts (then those are route reflectors), so the mode is decided across files by the
audit from the facts recorded here. Values under unknown tags (``!vault``) or Jinja templates are
unknown, not guessed. Inventories (INI): the ``[calico-rr]`` hosts and the cluster's nodes
(``[kube-node]``), the size found in the files.
"""

from __future__ import annotations

import configparser

import yaml

from scalelab.check.files import get, is_template, keys, line, scalar
from scalelab.check.kube import generation
from scalelab.check.provenance import FileRead, Imported

KARGO_KEYS = ("kube_version", "kube_network_plugin", "peer_with_router", "kube_service_addresses",
              "bootstrap_os", "kube_api_pwd", "kube_pods_subnet")


def is_group_vars(doc: yaml.Node) -> bool:
    return any(k in KARGO_KEYS for k in keys(doc))


def read_group_vars(doc: yaml.Node, display: str) -> Imported:
    out = Imported()
    count = 0
    version = get(doc, "kube_version")
    if version is not None:
        value = scalar(version)
        if value is None or is_template(value):
            out.not_readable("scheduler.generation", display, line(version))
        elif (gen := generation(str(value))) is not None:
            out.put("scheduler.generation", gen, display, [line(version)])
            count += 1
    plugin, peer = get(doc, "kube_network_plugin"), get(doc, "peer_with_router")
    if plugin is not None and scalar(plugin) == "calico":
        lines = [line(plugin)] + ([line(peer)] if peer is not None else [])
        peering = bool(scalar(peer)) if peer is not None else False
        out.facts.setdefault("calico", []).append((display, tuple(lines), peering))
        count += 1
    out.files.append(FileRead(display, "ansible-vars", count))
    return out


def looks_like_inventory(text: str) -> bool:
    return any(g in text for g in ("[kube-master]", "[kube-node]", "[etcd]", "[k8s-cluster", "[calico-rr]"))


def read_inventory(text: str, display: str) -> Imported:
    out = Imported()
    parser = configparser.ConfigParser(allow_no_value=True, delimiters=(" ", "\t", "="), strict=False,
                                       interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as error:
        out.files.append(FileRead(display, "ansible-inventory", 0, f"not an inventory: {str(error).splitlines()[0]}"))
        return out
    lines = text.splitlines()
    reflectors = list(parser["calico-rr"]) if parser.has_section("calico-rr") else []
    at = next((i + 1 for i, text_line in enumerate(lines) if text_line.strip() == "[calico-rr]"), None)
    out.facts.setdefault("calico_rr", []).append((display, len(reflectors), at))
    nodes = list(parser["kube-node"]) if parser.has_section("kube-node") else []
    if nodes:
        out.facts.setdefault("nodes", []).append((display, len(nodes)))
    out.files.append(FileRead(display, "ansible-inventory", 1 + bool(nodes)))
    return out
