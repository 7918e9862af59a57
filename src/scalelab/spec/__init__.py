"""The cluster model: ``ClusterSpec``, ``Scenario``, loading and patches."""

from scalelab.spec.loader import ScenarioError, apply_patch, load_scenario, scenario_hash
from scalelab.spec.model import ClusterSpec, Scenario

__all__ = ["ClusterSpec", "Scenario", "ScenarioError", "apply_patch", "load_scenario", "scenario_hash"]
