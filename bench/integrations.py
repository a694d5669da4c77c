"""Benchmark inbound integrations: what reading a monitoring tool's payload costs on top of processing incidents.

Run ``python bench/integrations.py``. Everything runs in this process, on the same alerts, next to its
baseline, in interleaved rounds (best of each):

- *alertmanager, firing*: ``Inbound.receive`` of Alertmanager bodies with 100 new alerts each (read, check,
  dedup, route, escalate). Baseline: what an application does by hand with the same decoded bodies: build
  each alert's ``Incident`` from its fields (no checks) and ``IncidentProcessor.process`` it. Target: at most
  1.5x: reading and checking the payload is a small part of handling an alert;
- *alertmanager, re-sent*: the same bodies again, every alert a repeat (dedup, counter). Baseline: the same
  by-hand path folding the same repeats. Target: at most 2x (the repeat path itself is a lookup and a
  counter, so the payload checks weigh more here);
- *generic, firing*: a ``generic`` integration with six JMESPath expressions, 100 events per body (``items``).
  Baseline: the by-hand path of the firing Alertmanager bodies. Target: at most 2x (the expressions are
  compiled once).

Printed: microseconds per alert, and the ratios.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import tocsin
from tocsin.logs import configure_logging

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TOKEN = "bench-token-0123456789abcdef"
ALERTS = 100
BODIES = 20
ROUNDS = 5

POLICY = {"id": "bench", "levels": [{"targets": [{"type": "user", "email": "oncall@example.com"}]}]}
INTEGRATIONS = {
    "prometheus": {"type": "alertmanager", "token": TOKEN, "defaults": {"incident_type": "Infrastructure"}},
    "checks": {
        "type": "generic",
        "token": TOKEN,
        "items": "events",
        "dedup_key": "id",
        "title": "summary",
        "description": "details",
        "severity": "level",
        "labels": "{host: host, env: env}",
        "resolve": "state == 'ok'",
    },
}


def am_body(batch: int) -> dict[str, Any]:
    """An Alertmanager webhook body with ``ALERTS`` firing alerts, distinct per ``batch``."""
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "DiskFull",
                "instance": f"db-{batch}-{n}:9100",
                "job": "node",
                "severity": "warning",
            },
            "annotations": {"summary": f"Disk full on db-{batch}-{n}", "description": "Less than 5% left"},
            "startsAt": "2026-03-02T09:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.com:9090/graph",
            "fingerprint": f"{batch:08x}{n:08x}",
        }
        for n in range(ALERTS)
    ]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "tocsin",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull", "job": "node", "severity": "warning"},
        "commonAnnotations": {"description": "Less than 5% left"},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": alerts,
    }


def generic_body(batch: int) -> dict[str, Any]:
    """A generic body with ``ALERTS`` events."""
    return {
        "events": [
            {
                "id": f"{batch}-{n}",
                "summary": f"Check failed on web-{batch}-{n}",
                "details": "HTTP 503",
                "level": "critical",
                "host": f"web-{batch}-{n}",
                "env": "prod",
                "state": "failing",
            }
            for n in range(ALERTS)
        ]
    }


def by_hand(name: str, alert: dict[str, Any]) -> tocsin.Incident:
    """The incident an application would build from one alert itself."""
    return tocsin.Incident(
        source=name,
        title=alert["annotations"]["summary"],
        description=alert["annotations"]["description"],
        severity="P3",
        incident_type="Infrastructure",
        labels=alert["labels"],
        payload=alert,
        dedup_key=f"{name}/{alert['fingerprint']}",
        created_at=START,
    )


class Setup:
    """A fresh engine, processor and integrations on a manual clock."""

    def __init__(self, plugins: tocsin.Plugins, config: tocsin.Config) -> None:
        clock = tocsin.ManualClock(START)
        sink = tocsin.MemorySink()
        channels = tocsin.ChannelSet(plugins.registry, senders={"log": sink})
        self.engine = tocsin.EscalationEngine(plugins, clock=clock, config=config, channels=channels)
        self.processor = tocsin.IncidentProcessor.from_config(self.engine, config)
        self.inbound = tocsin.Inbound(config.integrations, plugins.registry, self.processor, clock=clock)


def timed(run: Callable[[], None]) -> float:
    gc.collect()
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def measure(plugins: tocsin.Plugins, config: tocsin.Config) -> dict[str, tuple[float, float]]:
    """Best seconds per alert of each measurement and its baseline."""
    am_bodies = [am_body(batch) for batch in range(BODIES)]
    generic_bodies = [generic_body(batch) for batch in range(BODIES)]
    alerts = ALERTS * BODIES
    alerts_of = [alert for body in am_bodies for alert in body["alerts"]]
    best: dict[str, list[float]] = {}

    def note(name: str, seconds: float) -> None:
        best.setdefault(name, []).append(seconds / alerts)

    for _ in range(ROUNDS):
        inbound = Setup(plugins, config)
        direct = Setup(plugins, config)
        note("am firing", timed(lambda s=inbound: [s.inbound.receive("prometheus", body) for body in am_bodies]))
        note(
            "baseline firing",
            timed(lambda s=direct: [s.processor.process(by_hand("prometheus", a)) for a in alerts_of]),
        )
        note("am re-sent", timed(lambda s=inbound: [s.inbound.receive("prometheus", body) for body in am_bodies]))
        note(
            "baseline re-sent",
            timed(lambda s=direct: [s.processor.process(by_hand("prometheus", a)) for a in alerts_of]),
        )
        generic = Setup(plugins, config)
        note("generic firing", timed(lambda s=generic: [s.inbound.receive("checks", body) for body in generic_bodies]))
    assert len(inbound.processor.incidents.all()) == alerts  # re-sent bodies opened nothing new
    assert len(direct.processor.incidents.all()) == alerts
    assert len(generic.processor.incidents.all()) == alerts
    lowest = {name: min(values) for name, values in best.items()}
    return {
        "alertmanager, firing": (lowest["am firing"], lowest["baseline firing"]),
        "alertmanager, re-sent": (lowest["am re-sent"], lowest["baseline re-sent"]),
        "generic, firing": (lowest["generic firing"], lowest["baseline firing"]),
    }


TARGETS = {"alertmanager, firing": 1.5, "alertmanager, re-sent": 2.0, "generic, firing": 2.0}


def main() -> int:
    configure_logging(json=True, level="WARNING")  # the audit observer runs; its info lines are dropped
    plugins = tocsin.load_plugins(autoload=False)
    config = tocsin.parse_config({"policies": [POLICY], "integrations": INTEGRATIONS}, plugins.registry)
    rows = measure(plugins, config)
    header = f"{'measurement':<24}{'us/alert':>10}{'baseline':>10}{'ratio':>8}{'target':>9}"
    print(f"{ALERTS} alerts per body, {BODIES} bodies, best of {ROUNDS} rounds; baseline: incidents built by hand")
    print(header)
    print("-" * len(header))
    ok = True
    for name, (value, baseline) in rows.items():
        ratio = value / baseline
        met = ratio <= TARGETS[name]
        ok = ok and met
        verdict = "ok" if met else "MISSED"
        target = f"<= {TARGETS[name]}"
        print(f"{name:<24}{value * 1e6:>10.1f}{baseline * 1e6:>10.1f}{ratio:>8.2f}{target:>9}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
