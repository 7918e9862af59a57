"""Discrete-event simulation core (domain-free)."""

from scalelab.sim.engine import Engine, Event, Process
from scalelab.sim.resources import Cores, Slots
from scalelab.sim.rng import RngTree

__all__ = ["Cores", "Engine", "Event", "Process", "RngTree", "Slots"]
