"""``openstack.endpoints``: how the services are published, what the catalogue's URLs are, and
which of them a VM on a tenant network can reach (issue: Heat and the configuration entries).

The catalogue follows fuel-ccp's ``address()`` of late 2016 (fuel_ccp/common/utils.py, as
``../shared/corpus/real-configs/SOURCES.md`` records it): the internal and admin URLs are the
Kubernetes Service name, ``http://<service>.ccp.svc.cluster.local:<port>``; the public URL is
the TLS ingress (``https://<ingress name>.ccp.external:8443``) when it is enabled, a node port of
the Kubernetes node address (``http://<k8s_external_ip>:<node port>``) when the service has one,
and the internal URL otherwise. fuel-ccp's known-issues workaround (doc/source/known_issues.rst,
2016-12-30) gives heat-api and heat-api-cfn node ports (31777, 31778) and a public endpoint type
for Heat's own client; the node port wins over the ingress here, as that workaround needs.

A VM reaches a URL when its host is an address it can route to and something listens on that
port for that service: Kubernetes publishes a Service on every node's address only on its node
port (kube-apiserver ``--service-node-port-range`` 30000-32767 by default); cluster names
(``*.svc.cluster.local``) resolve only through kube-dns, and a VM resolves names through
neutron's dnsmasq; the ingress names resolve only where the operator put them in a DNS the VMs
use (``vm_resolvable_domains``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from scalelab.spec.base import Section

EndpointType = Literal["publicURL", "internalURL", "adminURL"]
#: kube-apiserver's default --service-node-port-range (1.5)
NODE_PORT_RANGE = (30000, 32767)
CLUSTER_SUFFIXES = (".svc.cluster.local", ".svc", ".cluster.local")
#: the Heat services a VM calls back, by catalogue service type: (Kubernetes Service, its port,
#: fuel-ccp's ingress name)
HEAT_SERVICES: dict[str, tuple[str, int, str]] = {
    "orchestration": ("heat-api", 8004, "orchestration"),
    "cloudformation": ("heat-api-cfn", 8000, "cloudformation"),
}


#: an IPv4 address or a DNS name (what a URL's host may be without brackets)
HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$")


def _host(value: str) -> str:
    if not HOST.match(value):
        raise ValueError(f"expected an IPv4 address or a DNS name, got {value!r}")
    return value


class Endpoints(Section):
    # fuel-ccp's configs.k8s_external_ip: the Kubernetes node address node-port URLs name
    # (None: no node-port URL is published). Default: the lab's env-1 node address that the
    # corpus's fixed configs.yaml carries (../shared/corpus/real-configs/SOURCES.md)
    k8s_external_ip: Annotated[str, AfterValidator(_host)] | None = "172.20.8.61"
    ingress_domain: str = "ccp.external"  # fuel-ccp ingress.domain
    ingress_port: Annotated[int, Field(ge=1, le=65535)] = 8443  # fuel-ccp ingress.port
    # DNS domains a VM on a tenant network resolves names in (none by default: its resolver
    # is neutron's dnsmasq, which knows the tenant network's own hosts)
    vm_resolvable_domains: tuple[str, ...] = ()


def parse_url(url: str) -> tuple[str, int]:
    """The host and port of an endpoint URL (the scheme's default port when none is given)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def unreachable_from_vm(url: str | None, service: str, node_ports: dict[int, str], ingress_tls: bool,
                        endpoints: Endpoints, deployed: bool = True) -> tuple[str, str] | None:
    """The hop at which a VM on a tenant network fails to reach ``service`` (a Kubernetes
    Service name) at ``url``, and why; None when it gets there. Hops: ``url`` (none given),
    ``service`` (nothing deployed behind it), ``dns`` (the name does not resolve from the VM),
    ``port`` (nothing listens there for that service), ``address`` (not a node's address).
    ``node_ports`` maps each published node port to its Service."""
    if url is None:
        return "url", f"no URL for {service} (no endpoint in the catalogue and none configured)"
    if not deployed:
        return "service", f"{service} is not deployed: nothing serves {url}"
    try:
        host, port = parse_url(url)
    except ValueError as error:  # a configured URL is the user's text: "http://[", "http://h:port"
        return "url", f"{url!r} is not a URL ({error})"
    if is_address(host):
        return _at_address(host, port, service, node_ports, endpoints)
    return _at_name(host, port, ingress_tls, endpoints)


def _at_address(host: str, port: int, service: str, node_ports: dict[int, str],
                endpoints: Endpoints) -> tuple[str, str] | None:
    low, high = NODE_PORT_RANGE
    if not low <= port <= high or port not in node_ports:
        return "port", (f"nothing listens on {host}:{port} (Kubernetes publishes a Service on a node's address "
                        f"only on its node port, {low}-{high})")
    if node_ports[port] != service:
        return "port", f"node port {port} publishes {node_ports[port]}, not {service}"
    if endpoints.k8s_external_ip is not None and host != endpoints.k8s_external_ip:
        return "address", f"{host} is not a Kubernetes node address ({endpoints.k8s_external_ip})"
    return None


def _at_name(host: str, port: int, ingress_tls: bool, endpoints: Endpoints) -> tuple[str, str] | None:
    if host.endswith(CLUSTER_SUFFIXES):
        return "dns", f"{host} is a cluster name: VMs resolve through neutron's dnsmasq, not kube-dns"
    if not any(host == d or host.endswith("." + d) for d in endpoints.vm_resolvable_domains):
        return "dns", f"{host} does not resolve from a VM (its domain is not in a DNS the VMs use)"
    if host.endswith(endpoints.ingress_domain) and not (ingress_tls and port == endpoints.ingress_port):
        return "port", f"no ingress listens on {host}:{port}"
    return None


__all__ = ["HEAT_SERVICES", "NODE_PORT_RANGE", "EndpointType", "Endpoints", "is_address", "parse_url",
           "unreachable_from_vm"]
