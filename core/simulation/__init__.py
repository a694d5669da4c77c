"""Virtual time: scenario files, and running them through the real engine on a manual clock
(``tocsin simulate`` and ``tocsin test``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.simulation.runner import SimulationResult, simulate
    from tocsin.simulation.scenario import Scenario, load_scenario
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.simulation.runner": ("SimulationResult", "simulate"),
            "tocsin.simulation.scenario": ("Scenario", "load_scenario"),
        },
    )

__all__ = ["Scenario", "SimulationResult", "load_scenario", "simulate"]
