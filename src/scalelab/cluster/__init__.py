"""The layers of a simulated cluster, each with its wiring module, and what they declare.

The loader checks scenarios against ``FAULT_KINDS``, ``RECONFIGURABLE`` and ``PHASES`` before
anything is built (a typo is a bad-input error with its field path, not a crash mid-run);
the assembly checks at build time that the layers registered exactly what they declared.
"""

from __future__ import annotations

from scalelab.cluster import kubernetes, openstack
from scalelab.cluster.assembly import Assembly

FAULT_KINDS: tuple[str, ...] = (*Assembly.NODE_FAULTS, *kubernetes.FAULT_KINDS, *openstack.FAULT_KINDS)
RECONFIGURABLE: tuple[str, ...] = (*kubernetes.RECONFIGURABLE, *openstack.RECONFIGURABLE)
PHASES: tuple[str, ...] = (*kubernetes.PHASES, *openstack.PHASES)

__all__ = ["FAULT_KINDS", "PHASES", "RECONFIGURABLE", "Assembly"]
