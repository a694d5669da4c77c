"""Where incidents come in: the incident processor (dedup, routing, policy choice, escalation start) and the
applying side of inbound integrations."""
