"""Virtual time: scenario files, and running them through the real engine on a manual clock
(``tocsin simulate`` and ``tocsin test``)."""

from __future__ import annotations

from tocsin.simulation.runner import SimulationResult, simulate
from tocsin.simulation.scenario import Scenario, load_scenario

__all__ = ["Scenario", "SimulationResult", "load_scenario", "simulate"]
