"""oslo ``.conf`` files (heat.conf, nova.conf, neutron.conf, glance-api.conf, keystone.conf) into
``openstack.*`` settings, parsed by oslo.config's own INI parser (multi-line values, ``:`` or
``=``, comments), each option with its line.

Which service a file configures comes from its name (``heat.conf``), else from the sections only
that service has. Options are read per service (neutron's own ``[DEFAULT] endpoint_type`` is
not Heat's client setting); ``[clients_heat]`` overrides ``[clients]`` as Heat reads them. An
option the service reads with an upstream default is recorded *absent* when the file lacks it:
a finding then names the file with no line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oslo_config import iniparser

from scalelab.check.provenance import FileRead, Imported

#: sections only one service has, to name a file that is not called after its service
SERVICE_SECTIONS = {"heat_api": "heat", "heat_api_cfn": "heat", "clients_heat": "heat", "libvirt": "nova",
                    "vnc": "nova", "conductor": "nova", "ml2": "neutron", "agent": "neutron",
                    "glance_store": "glance", "token": "keystone", "fernet_tokens": "keystone"}
SERVICES = ("heat", "nova", "neutron", "glance", "keystone")


class _Parser(iniparser.BaseParser):
    """Every (section, option) -> (values, line of its first value)."""

    def __init__(self) -> None:
        self.section = "DEFAULT"
        self.options: dict[tuple[str, str], tuple[list[str], int]] = {}
        self._line = 0

    def _split_key_value(self, line: str) -> tuple[str, list[str]]:
        self._line = self.lineno
        return super()._split_key_value(line)

    def new_section(self, section: str) -> None:
        self.section = section

    def assignment(self, key: str, value: list[str]) -> None:
        self.options[(self.section, key)] = (value, self._line)


def service_of(name: str, sections: set[str]) -> str | None:
    stem = name.split(".", maxsplit=1)[0].split("-", maxsplit=1)[0]
    if stem in SERVICES:
        return stem
    return next((SERVICE_SECTIONS[s] for s in sorted(sections) if s in SERVICE_SECTIONS), None)


def _bool(raw: str) -> bool:
    return raw.strip().lower() in ("true", "1", "yes", "on")


def _seconds(raw: str) -> float:
    return float(raw)


#: (section, option) -> (spec path under openstack.<service>, conversion), for every service
COMMON: dict[tuple[str, str], tuple[str, Callable[[str], Any]]] = {
    ("DEFAULT", "rpc_response_timeout"): ("rpc_response_timeout", _seconds),
    ("database", "max_pool_size"): ("db.max_pool_size", int),
    ("database", "max_overflow"): ("db.max_overflow", int),
    ("keystone_authtoken", "project_name"): ("auth_project", str),
}
PER_SERVICE: dict[str, dict[tuple[str, str], tuple[str, Callable[[str], Any]]]] = {
    "heat": {("DEFAULT", "stack_user_domain_name"): ("stack_user_domain", str),
             ("DEFAULT", "stack_domain_admin"): ("stack_domain_admin", str),
             ("DEFAULT", "convergence_engine"): ("convergence_engine", _bool),
             ("DEFAULT", "num_engine_workers"): ("engine_workers", int),
             ("DEFAULT", "heat_metadata_server_url"): ("metadata_server_url", str),
             ("DEFAULT", "heat_waitcondition_server_url"): ("waitcondition_server_url", str),
             ("heat_api", "workers"): ("api_workers", int),
             ("clients", "endpoint_type"): ("clients_endpoint_type", str),
             ("clients_heat", "endpoint_type"): ("clients_heat_endpoint_type", str)},
    "nova": {("DEFAULT", "secure_proxy_ssl_header"): ("secure_proxy_ssl_header", str),
             ("DEFAULT", "osapi_compute_workers"): ("api_workers", int),
             ("conductor", "workers"): ("conductor_workers", int),
             ("libvirt", "live_migration_uri"): ("live_migration_uri", str)},
    "neutron": {("DEFAULT", "api_workers"): ("api_workers", int),
                ("DEFAULT", "rpc_workers"): ("rpc_workers", int)},
}
#: the service's own default where it differs from the spec's (the spec's defaults are a working
#: deployment; heat.conf without them has no stack-user domain)
ABSENT_DEFAULTS = {"heat": {"stack_user_domain": None, "stack_domain_admin": None}}
#: options whose absence is a finding's evidence (their default is the issue), per service
ABSENT_MATTERS = {
    "heat": ("stack_user_domain", "stack_domain_admin", "convergence_engine", "api_workers", "rpc_response_timeout",
             "clients_heat_endpoint_type"),
    "nova": ("secure_proxy_ssl_header",),
    "neutron": ("db.max_pool_size", "db.max_overflow"),
}


def read(text: str, name: str, display: str) -> Imported:
    """Import one oslo ``.conf``; ``name`` is the file's name, ``display`` how findings name it."""
    parser = _Parser()
    out = Imported()
    try:
        parser.parse(text.splitlines())
    except iniparser.ParseError as error:
        out.files.append(FileRead(display, "oslo-conf", 0, f"not an oslo .conf: {error}"))
        return out
    sections = {s for s, _k in parser.options} | {parser.section}
    service = service_of(name, sections)
    if service is None:
        out.files.append(FileRead(display, "oslo-conf", 0, "an oslo .conf of no service scalelab models"))
        return out
    table = {**COMMON, **PER_SERVICE.get(service, {})}
    prefix = f"openstack.{service}."
    read_count = 0
    for (section, option), (path, convert) in table.items():
        found = parser.options.get((section, option))
        if found is None:
            if path in ABSENT_MATTERS.get(service, ()):
                out.absent(prefix + path, display)
            defaults = ABSENT_DEFAULTS.get(service, {})
            if path in defaults:
                out.values[prefix + path] = defaults[path]
            continue
        values, line = found
        raw = values[-1] if values else ""
        if service == "heat" and path == "api_workers" and raw.strip() == "0":
            continue  # 0: one per CPU, the spec's default
        read_count += out.put_parsed(prefix + path, raw, convert, display, line)
    read_count += _service_specific(service, parser, out, display)
    out.values["openstack.enabled"] = True
    out.files.append(FileRead(display, f"oslo-conf:{service}", read_count))
    return out


def _service_specific(service: str, parser: _Parser, out: Imported, display: str) -> int:
    """Settings whose meaning needs more than one option."""
    count = 0
    if service == "nova":
        vnc = parser.options.get(("DEFAULT", "novncproxy_base_url")) or parser.options.get(("vnc",
                                                                                          "novncproxy_base_url"))
        if vnc is not None and vnc[0] and vnc[0][-1].startswith("https://"):
            # the console's public URL is the TLS ingress: so are nova's public endpoints
            out.values["openstack.ingress_tls"] = True
            out.facts.setdefault("ingress_tls_source", []).append((display, vnc[1]))
            count += 1
        inbound = parser.options.get(("libvirt", "live_migration_inbound_addr"))
        if inbound is not None:
            # fuel-ccp renders the compute's private address here: the network libvirtd listens
            # on (the spec names the address by its network)
            out.put("openstack.nova.live_migration_inbound_addr", "private", display, [inbound[1]])
            count += 1
        else:
            out.absent("openstack.nova.live_migration_inbound_addr", display)
    return count


__all__ = ["read", "service_of"]
