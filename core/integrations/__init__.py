"""Inbound integrations, the data side: incident events, integration settings, payload reading helpers and the
alert-group body that Alertmanager and Grafana share. Sources themselves are plugins."""
