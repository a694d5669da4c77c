"""The escalation engine: policies compiled into plans, escalations walked forward in time, the due-queue and
its monitor, target expansion, smart levels (working hours, conditions, round robin) and the engine's errors."""
