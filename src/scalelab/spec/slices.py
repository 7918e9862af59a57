"""Heat stack templates, the report's workload slices and the traffic through them (issue: Heat
stacks and the report's workload slices).

A slice is the report's Heat stack of 6 VMs on one compute node: ycsb, cassandra, magento,
wordpress and two idle VMs, on the slice's own network. The applications are configured as Heat
templates of the era do it: each application server gets a SoftwareConfig and a
SoftwareDeployment (os-collect-config in the guest polls heat-api-cfn for it and signals it done
through heat-api-cfn, CFN_SIGNAL), and a WaitCondition whose handle the guest signals through
heat-api once the application is up. The report's own templates are not read (they live in
openstack/performance-docs, held out): the setup times below are assumptions, each stated.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from scalelab.spec.base import PositiveDuration, Section


class StackServer(Section):
    """One server of a stack template and what configures it."""

    role: str
    # a SoftwareConfig + SoftwareDeployment (POLL_SERVER_CFN transport, CFN_SIGNAL)
    deployment: bool = False
    # with ``deployment``: how many SoftwareConfig + SoftwareDeployment pairs configure the
    # server (1: assumption; the report's templates are held out)
    deployments: PositiveInt = 1
    # an OS::Heat::WaitCondition whose handle the guest signals through heat-api
    wait_condition: bool = False
    # the application's install and start once its configuration arrived (assumption per role)
    setup_seconds: NonNegativeFloat = 0.0
    vcpus: PositiveInt = 2  # m1.medium (assumption: the slices' flavor is not in the report)
    # CPU in the guest per request of the traffic phase (0: no traffic served)
    request_cpu_seconds: NonNegativeFloat = 0.0


def _slice() -> tuple[StackServer, ...]:
    # setup times: package installs from an Ubuntu mirror and the application's first start
    # (assumptions: YCSB 120 s, Cassandra 180 s, Magento 300 s, WordPress 180 s); per-request
    # CPU: a WordPress page ~50 ms and a Magento page ~200 ms of PHP (assumption), a Cassandra
    # read or update ~1 ms
    return (StackServer(role="ycsb", deployment=True, wait_condition=True, setup_seconds=120.0),
            StackServer(role="cassandra", deployment=True, wait_condition=True, setup_seconds=180.0,
                        request_cpu_seconds=0.001),
            StackServer(role="magento", deployment=True, wait_condition=True, setup_seconds=300.0,
                        request_cpu_seconds=0.2),
            StackServer(role="wordpress", deployment=True, wait_condition=True, setup_seconds=180.0,
                        request_cpu_seconds=0.05),
            StackServer(role="idle"), StackServer(role="idle"))


class StackTemplate(Section):
    """A stack: its network (OS::Neutron::Net, Subnet and a Port per server) and servers."""

    network: bool = True
    servers: tuple[StackServer, ...] = Field(default_factory=_slice, min_length=1)
    # the WaitConditions' timeout (assumption: 20 min, room for the slowest setup)
    wait_condition_timeout: PositiveDuration = 1200.0

    @property
    def needs_stack_user(self) -> bool:
        """Servers that authenticate back to Heat need the stack's user."""
        return any(s.deployment or s.wait_condition for s in self.servers)


class SlicesPhase(Section):
    """Heat stacks of the slice template, one per compute node by default (placed there, as the
    report's ``slice0-node162``), ``parallelism`` being created at once; each creation is
    followed as ``openstack stack create --wait`` does (stack show every ``poll_interval``)."""

    kind: Literal["slices"]
    count: PositiveInt | None = None  # None: one per compute
    parallelism: PositiveInt = 10  # stacks in creation at once (assumption; the lab's script unknown)
    template: StackTemplate = StackTemplate()
    timeout: PositiveDuration = 6 * 3600.0


class TrafficPhase(Section):
    """Load through the slices' applications: Locust users against each WordPress and Magento
    VM (a request, then a wait drawn between ``min_wait`` and ``max_wait``: Locust 0.7's
    defaults are 1 s and 1 s) and YCSB against each Cassandra VM at ``ycsb_target`` operations
    per second (YCSB's ``-target``). VMs the tenant network cannot reach get none. The traffic
    stays on the tenant networks and the VMs' own hosts, so slices do not load each other: it is
    simulated on ``sample_slices`` complete slices drawn at random (None: all), and the reachable
    VMs are counted over all of them."""

    kind: Literal["traffic"]
    duration: PositiveDuration = 120.0
    users_per_app: PositiveInt = 5  # Locust users per web VM (assumption)
    min_wait: PositiveFloat = 1.0
    max_wait: PositiveFloat = 1.0
    ycsb_target: Annotated[float, Field(ge=0)] = 100.0  # operations per second per Cassandra VM (assumption)
    sample_slices: PositiveInt | None = 20

    @model_validator(mode="after")
    def _waits_ordered(self) -> TrafficPhase:
        if self.max_wait < self.min_wait:
            raise ValueError(f"max_wait: expected at least min_wait ({self.min_wait:g} s), got {self.max_wait:g} s")
        return self


__all__ = ["SlicesPhase", "StackServer", "StackTemplate", "TrafficPhase"]
