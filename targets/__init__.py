"""Built-in escalation targets of tocsin: user, team, schedule, webhook."""
