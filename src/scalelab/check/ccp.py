"""fuel-ccp files: topologies (which services run where: is heat-api-cfn deployed?), service
defaults and ``configs`` (memcached's ``ram``, ``k8s_external_ip``, Heat's endpoint type and node
ports, the ingress), and Prometheus configs and deployments of the report's lab.

``ccp.yaml``'s ``!include`` lists name the files fuel-ccp merges into it: each is followed
(relative to the including file) when it lies under a path given and was not read already; one
that is missing, loops or lies outside is listed as unreadable, naming the include's line.
Values under unknown tags are unknown.
"""

from __future__ import annotations

import re

import yaml

from scalelab.check.files import get, is_template, keys, line, scalar
from scalelab.check.provenance import FileRead, Imported

MIB = 2**20


def is_topology(doc: yaml.Node) -> bool:
    return "roles" in keys(doc) and isinstance(get(doc, "roles"), yaml.MappingNode)


def read_topology(doc: yaml.Node, display: str) -> Imported:
    """A topology deploys heat-api-cfn or not; the evidence is where Heat's services are
    listed (their role and their lines) without it."""
    out = Imported()
    roles = get(doc, "roles")
    assert isinstance(roles, yaml.MappingNode)
    heat_lines: list[int] = []
    cfn: int | None = None
    for role_key, services in roles.value:
        if not isinstance(services, yaml.SequenceNode):
            continue
        for service in services.value:
            name = scalar(service)
            if name == "heat-api-cfn":
                cfn = line(service)
            elif name in ("heat-api", "heat-engine"):
                heat_lines += [line(role_key), line(service)]
    if heat_lines or cfn is not None:
        out.values["openstack.enabled"] = True
        if cfn is not None:
            out.put("openstack.heat.api_cfn", True, display, [cfn])
        else:
            out.put("openstack.heat.api_cfn", False, display, heat_lines)
    out.files.append(FileRead(display, "ccp-topology", int(bool(heat_lines or cfn))))
    return out


INCLUDE_TAG = "!include"


def is_include(doc: yaml.Node) -> bool:
    return doc.tag == INCLUDE_TAG and isinstance(doc, yaml.SequenceNode)


def read_include(doc: yaml.Node, display: str, path: object) -> Imported:
    """A ``!include`` document: the files it names (followed by the audit), as a fact."""
    out = Imported()
    assert isinstance(doc, yaml.SequenceNode)
    names = [(str(scalar(item)), line(item)) for item in doc.value if isinstance(scalar(item), str)]
    out.facts["ccp_includes"] = [(display, path, name, at) for name, at in names]
    out.files.append(FileRead(display, "ccp-config", 0))
    return out


def is_configs(doc: yaml.Node) -> bool:
    return isinstance(get(doc, "configs"), yaml.MappingNode)


def _put(out: Imported, path: str, node: yaml.Node | None, display: str, scale: float = 1.0) -> int:
    if node is None:
        return 0
    value = scalar(node)
    if value is None or is_template(value):
        out.not_readable(path, display, line(node))
        return 0
    if scale == 1.0:
        out.put(path, value, display, [line(node)])
        return 1
    return int(out.put_parsed(path, value, lambda raw: float(raw) * scale, display, line(node)))


def read_configs(doc: yaml.Node, display: str) -> Imported:
    """fuel-ccp ``configs``: a service's defaults.yaml or the deployment's configs.yaml."""
    out = Imported()
    configs = get(doc, "configs")
    count = _put(out, "openstack.memcached.memory", get(configs, "memcached", "ram"), display, MIB)
    count += _put(out, "openstack.endpoints.k8s_external_ip", get(configs, "k8s_external_ip"), display)
    count += _put(out, "openstack.heat.clients_heat_endpoint_type", get(configs, "heat", "heat_endpoint_type"),
                  display)
    count += _put(out, "openstack.heat.api_node_port", get(configs, "heat", "api_port", "node"), display)
    count += _put(out, "openstack.heat.api_cfn_node_port", get(configs, "heat", "api_cfn_port", "node"), display)
    count += _put(out, "openstack.ingress_tls", get(configs, "ingress", "enabled"), display)
    if count:
        out.values["openstack.enabled"] = True
    out.files.append(FileRead(display, "ccp-configs", count))
    return out


def is_prometheus(doc: yaml.Node) -> bool:
    return "scrape_configs" in keys(doc)


def read_prometheus(doc: yaml.Node, display: str) -> Imported:
    """A Prometheus config: remote storage (``remote_write``) or local storage only."""
    out = Imported()
    scrape = get(doc, "scrape_configs")
    out.put("monitoring.prometheus", True, display, [line(scrape)] if scrape is not None else [])
    interval = _node_scrape_interval(doc, scrape)
    if interval is not None:
        out.put_parsed("monitoring.node_scrape_interval", scalar(interval), str, display, line(interval))
    remote = get(doc, "remote_write")
    if remote is not None:
        out.put("monitoring.remote_storage", True, display, [line(remote)])
    else:
        out.values["monitoring.remote_storage"] = False
        out.absent("monitoring.remote_storage", display)
    out.files.append(FileRead(display, "prometheus", 1))
    return out


def _node_scrape_interval(doc: yaml.Node, scrape: yaml.Node | None) -> yaml.Node | None:
    """The interval of the first job scraping Kubernetes nodes (``kubernetes_sd_configs``
    with ``role: node``), else the global one."""
    jobs = scrape.value if isinstance(scrape, yaml.SequenceNode) else []
    for job in jobs:
        discovery = get(job, "kubernetes_sd_configs")
        roles = discovery.value if isinstance(discovery, yaml.SequenceNode) else []
        if any(scalar(get(sd, "role")) == "node" for sd in roles):
            return get(job, "scrape_interval") or get(doc, "global", "scrape_interval")
    return None


def mentions_prometheus(text: str) -> bool:
    return "prom/prometheus" in text or "-storage.local.retention" in text


#: Prometheus 1.x storage flags and the ``monitoring`` paths they set (v1.4.0 flag names)
PROMETHEUS_FLAGS = {"storage.local.retention": ("monitoring.retention", str),
                    "storage.local.memory-chunks": ("monitoring.memory_chunks", int),
                    "storage.local.max-chunks-to-persist": ("monitoring.max_chunks_to_persist", int),
                    "storage.local.chunk-encoding-version": ("monitoring.chunk_encoding", int)}
_FLAG = re.compile(r"-{1,2}(storage\.local\.[a-z.-]+)(?:=|\s+)([^\s'\"]+)")


def read_prometheus_deployment(text: str, display: str) -> Imported:
    """A task that starts Prometheus 1.x with flags: remote storage only through
    ``-storage.remote.*`` flags in that version; the storage flags the model uses (retention,
    memory-chunks, max-chunks-to-persist, chunk encoding) as the file sets them."""
    out = Imported()
    for number, text_line in enumerate(text.splitlines(), start=1):
        if "prom/prometheus" in text_line:
            out.put("monitoring.prometheus", True, display, [number])
        if "-storage.remote." in text_line:
            out.put("monitoring.remote_storage", True, display, [number])
        for flag, raw in _FLAG.findall(text_line):
            if flag in PROMETHEUS_FLAGS:
                path, convert = PROMETHEUS_FLAGS[flag]
                out.put_parsed(path, raw, convert, display, number)
    out.files.append(FileRead(display, "prometheus-deployment", len(out.values)))
    return out
