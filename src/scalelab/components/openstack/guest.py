"""The agents inside a stack's servers that call Heat back (issue: Heat stacks and the slices).

A guest boots (``heat.guest_boot_seconds``), then cloud-init runs its user data: with a
SoftwareDeployment, os-collect-config polls the metadata URL (heat-api-cfn) every
``heat.collect_polling_interval`` for as long as the server runs; once its deployment is in the
metadata it applies it (the application's setup), and heat-config-notify signals it done through
heat-api-cfn's waitcondition URL (CFN_SIGNAL); a WaitCondition's handle is signalled through
heat-api with the stack user's token once the application is up. Each callback goes to the URL
Heat gave the server (``OpenStack.heat_callbacks``): when a VM cannot reach it
(``OpenStack.callback_refused``: not deployed, a cluster name, no node port) the attempt fails
in the guest and never loads the control plane; a failed signal is not retried (one
heat-config-notify / curl run), a failed poll is retried at the next interval.
Recorded: ``heat_callback_failures_total{callback,hop}`` (attempts that could not reach their URL,
with the hop that failed: ``scalelab.spec.endpoints.unreachable_from_vm``),
``heat_callback_errors_total{callback}`` (reached, and the service failed),
``heat_metadata_polls_total``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from scalelab.components.openstack.errors import ServiceError
from scalelab.components.openstack.orchestration import IN_PROGRESS, Orchestration, Stack
from scalelab.metrics.recorder import Recorder
from scalelab.sim import Engine, Event
from scalelab.spec.slices import StackServer

CALLBACKS = ("metadata", "cfn_signal", "heat_signal")


class Guests:
    def __init__(self, engine: Engine, heat: Orchestration, recorder: Recorder) -> None:
        self.engine = engine
        self.heat = heat
        self.recorder = recorder
        cloud = heat.cloud
        #: callback -> (hop, why) a VM cannot make it (absent: it can), read once from the settings
        self.refused = {c: refusal for c in CALLBACKS if (refusal := cloud.callback_refused(c)) is not None}
        for callback, (hop, why) in sorted(self.refused.items()):
            recorder.event(0.0, "heat_callback_unreachable", f"{callback} at {hop}: {why}")

    def start(self, stack: Stack, server: str, spec: StackServer) -> None:
        self.engine.process(self._run(stack, server, spec))

    def _alive(self, server: str) -> bool:
        return self.heat.compute.status.get(server) == "ACTIVE"

    def _attempt(self, callback: str, body: Generator[Event, Any, Any]) -> Generator[Event, Any, Any]:
        """One callback: refused in the guest when the VM cannot reach its URL, else the
        request (its failure counted); returns the result, or None when it failed."""
        refusal = self.refused.get(callback)
        if refusal is not None:
            body.close()
            self.recorder.inc(f'heat_callback_failures_total{{callback="{callback}",hop="{refusal[0]}"}}')
            return None
        try:
            return (yield from body)
        except ServiceError:
            self.recorder.inc(f'heat_callback_errors_total{{callback="{callback}"}}')
            return None

    def _run(self, stack: Stack, server: str, spec: StackServer) -> Generator[Event, Any, None]:
        yield self.engine.timeout(self.heat.spec.guest_boot_seconds)
        if spec.deployment:
            got = yield from self._poll_until_deployed(stack, server)
            if not got:
                return
            stack.received.add(server)
            yield self.engine.timeout(spec.setup_seconds)
            for _ in range(spec.deployments):  # heat-config-notify signals each deployment
                yield from self._attempt("cfn_signal", self.heat.cfn_signal(stack, server))
            self.engine.process(self._keep_polling(stack, server))
        else:
            yield self.engine.timeout(spec.setup_seconds)
        if spec.wait_condition:
            yield from self._attempt("heat_signal", self.heat.heat_signal(stack, server))

    def _poll(self, stack: Stack, server: str) -> Generator[Event, Any, bool]:
        self.recorder.inc("heat_metadata_polls_total")
        return bool((yield from self._attempt("metadata", self.heat.describe(stack, server))))

    def _poll_until_deployed(self, stack: Stack, server: str) -> Generator[Event, Any, bool]:
        """os-collect-config until the deployment shows in the metadata; gives up (returns
        False) once the stack is no longer being created."""
        interval = self.heat.spec.collect_polling_interval
        while self._alive(server) and stack.status == IN_PROGRESS:
            if (yield from self._poll(stack, server)):
                return True
            yield self.engine.timeout(interval)
        return False

    def _keep_polling(self, stack: Stack, server: str) -> Generator[Event, Any, None]:
        """os-collect-config goes on polling for as long as the server runs: background load
        on heat-api-cfn, keystone and heat-engine that grows with the deployed servers."""
        interval = self.heat.spec.collect_polling_interval
        while True:
            yield self.engine.timeout(interval)
            if not self._alive(server):
                return
            yield from self._poll(stack, server)
