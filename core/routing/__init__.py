"""Routing rules: conditions compiled into closures, the rule index, actions and their effects, explain, the
config check for rules, and which escalation policy an incident gets."""
