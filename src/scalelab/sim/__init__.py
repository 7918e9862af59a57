"""Discrete-event simulation core (domain-free)."""

from scalelab.sim.engine import Condition, Engine, Event, Interrupt, Process, Timer
from scalelab.sim.resources import Cores, Slots
from scalelab.sim.rng import RngTree

__all__ = ["Condition", "Cores", "Engine", "Event", "Interrupt", "Process", "RngTree", "Slots", "Timer"]
