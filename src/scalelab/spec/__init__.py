"""The cluster model: ``ClusterSpec``, ``Scenario``, loading and patches (built-ins by name: ``scalelab.scenarios``)."""

from scalelab.spec.loader import ScenarioError, apply_patch, scenario_hash
from scalelab.spec.model import ClusterSpec, Scenario

__all__ = ["ClusterSpec", "Scenario", "ScenarioError", "apply_patch", "scenario_hash"]
