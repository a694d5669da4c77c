"""Routing benchmark: the same rule set evaluated by tocsin, hand-written closures and ``rule-engine``.

Run ``python bench/routing.py`` (``--quick`` for a short run). Everything runs in one process, on the same
incidents; the evaluators are first checked to give the same matches. Like is compared with like: tocsin's
scan (``indexed=False``) with hand-written closures scanned in priority order, and tocsin's rule index with
the same closures looked up in a hand-written dict by ``source``. Each rule has an ``equals`` on ``source``
plus one or two of: an ``in`` on severity, a regular expression on the title (a different one per
rule), a label lookup. Printed: microseconds per incident and the ratios the routing issue sets targets for.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import regex
import rule_engine

import tocsin
from tocsin import Incident, RoutingRule, RuleCondition, Severity

WORDS = ["disk", "cpu", "memory", "latency", "queue", "cert", "dns", "backup", "replica", "quota"]
HOSTS = ["db", "web", "api", "cache", "lb", "worker"]
TEAMS = ["storage", "web", "payments", "search", "infra", "data", "edge", "mobile"]
SEVERITIES = ["P0", "P1", "P2", "P3", "P4"]
RULES_PER_SOURCE = 4


@attrs.frozen
class Spec:
    """One benchmark rule, independent of any engine."""

    name: str
    priority: int
    source: str
    severities: tuple[str, ...] | None
    pattern: str | None
    team: str | None


def make_specs(count: int, rng: random.Random) -> list[Spec]:
    """``count`` rules: four per source value, each with 2 or 3 conditions."""
    sources = max(1, count // RULES_PER_SOURCE)
    specs = []
    for number in range(count):
        extra = rng.sample(["severity", "pattern", "team"], k=rng.choice([1, 2]))
        word, host = rng.choice(WORDS), rng.choice(HOSTS)
        specs.append(
            Spec(
                name=f"rule-{number}",
                priority=rng.randrange(100),
                source=f"svc-{number % sources}",
                severities=tuple(sorted(rng.sample(SEVERITIES, k=rng.choice([2, 3])))) if "severity" in extra else None,
                pattern=f"{word} (error|failure) on {host}-{number}( |$)" if "pattern" in extra else None,
                team=rng.choice(TEAMS) if "team" in extra else None,
            )
        )
    return specs


def make_incidents(specs: Sequence[Spec], count: int, rng: random.Random) -> list[Incident]:
    """Half aimed at one rule (most of them matching it), half random."""
    incidents = []
    for _ in range(count):
        spec = rng.choice(specs)
        aimed = rng.random() < 0.5
        number = spec.name.split("-")[1] if aimed else str(rng.randrange(len(specs) * 2))
        word = spec.pattern.split(" ")[0] if aimed and spec.pattern else rng.choice(WORDS)
        host = spec.pattern.split(" on ")[1].split("-")[0] if aimed and spec.pattern else rng.choice(HOSTS)
        incidents.append(
            Incident(
                source=spec.source if aimed else f"svc-{rng.randrange(len(specs))}",
                title=f"{word} {rng.choice(['error', 'failure', 'warning'])} on {host}-{number} since 09:00",
                severity=rng.choice(spec.severities) if aimed and spec.severities else rng.choice(SEVERITIES),
                labels={"team": spec.team if aimed and spec.team else rng.choice(TEAMS)},
            )
        )
    return incidents


def tocsin_rules(specs: Sequence[Spec], registry: tocsin.Registry) -> list[RoutingRule]:
    """The rules in tocsin's model."""
    notify = registry.actions.get("notify").cls(channels=["#bench"])
    rules = []
    for spec in specs:
        conditions = [RuleCondition(field="source", operator="equals", value=spec.source)]
        if spec.severities:
            conditions.append(RuleCondition(field="severity", operator="in", value=list(spec.severities)))
        if spec.pattern:
            conditions.append(RuleCondition(field="title", operator="matches", value=spec.pattern))
        if spec.team:
            conditions.append(RuleCondition(field="labels.team", operator="equals", value=spec.team))
        rules.append(
            RoutingRule(name=spec.name, priority=spec.priority, conditions=tuple(conditions), actions=(notify,))
        )
    return rules


def _ordered(specs: Sequence[Spec]) -> list[Spec]:
    return sorted(specs, key=lambda spec: -spec.priority)  # stable: ties keep definition order


def hand_written(specs: Sequence[Spec]) -> Callable[[Incident], list[str]]:
    """One closure per rule, written out per rule shape, cheapest test first, scanned in priority order."""
    compiled: list[tuple[str, Callable[[Incident], Any]]] = []
    for spec in _ordered(specs):
        src, team = spec.source, spec.team
        sev = frozenset(Severity(s) for s in spec.severities) if spec.severities else None
        search = regex.compile(spec.pattern).search if spec.pattern else None
        shape = (sev is not None, team is not None, search is not None)
        check: Callable[[Incident], Any]
        if shape == (True, False, False):
            check = lambda i, src=src, sev=sev: i.source == src and i.severity in sev  # noqa: E731
        elif shape == (False, True, False):
            check = lambda i, src=src, team=team: i.source == src and i.labels.get("team") == team  # noqa: E731
        elif shape == (False, False, True):
            check = lambda i, src=src, s=search: i.source == src and s(i.title) is not None  # noqa: E731
        elif shape == (True, True, False):
            check = lambda i, src=src, sev=sev, team=team: (  # noqa: E731
                i.source == src and i.severity in sev and i.labels.get("team") == team
            )
        elif shape == (True, False, True):
            check = lambda i, src=src, sev=sev, s=search: (  # noqa: E731
                i.source == src and i.severity in sev and s(i.title) is not None
            )
        else:
            check = lambda i, src=src, team=team, s=search: (  # noqa: E731
                i.source == src and i.labels.get("team") == team and s(i.title) is not None
            )
        compiled.append((spec.name, check))
    return lambda incident: [name for name, check in compiled if check(incident)]


def hand_indexed(specs: Sequence[Spec]) -> Callable[[Incident], list[str]]:
    """The hand-written closures, looked up in a dict by ``source`` (each rule's ``equals``), in priority order:
    what an index over the rules would be if written by hand for this one rule set."""
    by_source: dict[str, list[Spec]] = {}
    for spec in _ordered(specs):
        by_source.setdefault(spec.source, []).append(spec)
    lookup = {source: hand_written(group) for source, group in by_source.items()}
    nothing: Callable[[Incident], list[str]] = lambda incident: []  # noqa: E731
    return lambda incident: lookup.get(incident.source, nothing)(incident)


def with_rule_engine(specs: Sequence[Spec]) -> Callable[[Incident], list[str]]:
    """The rules as ``rule_engine.Rule`` expressions over a dict view of the incident."""
    compiled = []
    for spec in _ordered(specs):
        parts = [f'source == "{spec.source}"']
        if spec.severities:
            parts.append(f"severity in [{', '.join(f'{s!r}'.replace(chr(39), chr(34)) for s in spec.severities)}]")
        if spec.team:
            parts.append(f'labels["team"] == "{spec.team}"')
        if spec.pattern:
            parts.append(f'title =~~ "{spec.pattern}"')
        compiled.append((spec.name, rule_engine.Rule(" and ".join(parts))))

    def evaluate(incident: Incident) -> list[str]:
        document = {
            "source": incident.source,
            "severity": incident.severity.value,
            "title": incident.title,
            "labels": dict(incident.labels),
        }
        return [name for name, rule in compiled if rule.matches(document)]

    return evaluate


def per_incident_us(evaluate: Callable[[Incident], Any], incidents: Sequence[Incident], budget: float) -> float:
    """Best of three runs of at least ``budget`` seconds each: microseconds per evaluated incident."""
    for incident in incidents[:20]:
        evaluate(incident)
    best = float("inf")
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while True:
            evaluate(incidents[done % len(incidents)])
            done += 1
            elapsed = time.perf_counter() - start
            if elapsed >= budget and done >= 5:
                break
        best = min(best, elapsed / done)
    return best * 1e6


def run(sizes: Sequence[int], budget: float, rule_engine_budget: float) -> list[dict[str, float]]:
    """Build, cross-check and time every evaluator for each rule count."""
    registry = tocsin.load_plugins(autoload=False).registry
    rows = []
    for count in sizes:
        rng = random.Random(count)
        specs = make_specs(count, rng)
        incidents = make_incidents(specs, 2000, rng)
        rules = tocsin_rules(specs, registry)
        started = time.perf_counter()
        indexed = tocsin.RoutingRuleEvaluator(registry, rules)
        indexed.plan  # noqa: B018  (build the plan now, not inside the timing)
        build_ms = (time.perf_counter() - started) * 1e3
        scanned = tocsin.RoutingRuleEvaluator(registry, rules, indexed=False)
        scanned.plan  # noqa: B018
        evaluators: dict[str, Callable[[Incident], Any]] = {
            "tocsin": lambda i, e=indexed: e.evaluate_incident(i),
            "tocsin_scan": lambda i, e=scanned: e.evaluate_incident(i),
            "hand": hand_written(specs),
            "hand_index": hand_indexed(specs),
            "rule_engine": with_rule_engine(specs),
        }
        _cross_check(evaluators, incidents)
        row: dict[str, float] = {"rules": count, "build_ms": build_ms}
        row["matches"] = sum(len(indexed.evaluate_incident(i)) for i in incidents) / len(incidents)
        for name, evaluate in evaluators.items():
            row[name] = per_incident_us(evaluate, incidents, rule_engine_budget if name == "rule_engine" else budget)
        rows.append(row)
        print(f"  measured {count} rules", flush=True)
    return rows


def _cross_check(evaluators: dict[str, Callable[[Incident], Any]], incidents: Sequence[Incident]) -> None:
    for incident in incidents[:40]:
        answers = {name: [r.name if hasattr(r, "name") else r for r in fn(incident)] for name, fn in evaluators.items()}
        if len({tuple(a) for a in answers.values()}) != 1:
            raise SystemExit(f"evaluators disagree on {incident!r}: {answers}")


def report(rows: Sequence[dict[str, float]]) -> None:
    """Print the table and the targets."""
    header = (
        f"{'rules':>6} {'tocsin':>9} {'hand idx':>9} {'idx/idx':>8} {'scan':>9} {'hand scan':>10} {'scan/scan':>10} "
        f"{'rule-eng':>10} {'re/toc':>8} {'vs 100':>7} {'match/inc':>9} {'build ms':>9}"
    )
    print("\nmicroseconds per incident (tocsin = its rule index; scan = tocsin with indexed=False;")
    print("hand idx = hand-written closures looked up by source in a dict; hand scan = the same closures scanned)")
    print(header)
    print("-" * len(header))
    base = next((row["tocsin"] for row in rows if row["rules"] == 100), None)
    for row in rows:
        versus = f"{row['tocsin'] / base:7.2f}" if base else f"{'-':>7}"
        print(
            f"{int(row['rules']):>6} {row['tocsin']:>9.2f} {row['hand_index']:>9.2f} "
            f"{row['tocsin'] / row['hand_index']:>8.2f} {row['tocsin_scan']:>9.2f} {row['hand']:>10.2f} "
            f"{row['tocsin_scan'] / row['hand']:>10.2f} {row['rule_engine']:>10.1f} "
            f"{row['rule_engine'] / row['tocsin']:>8.0f} {versus} {row['matches']:>9.2f} {row['build_ms']:>9.1f}"
        )
    print("\ntargets")
    for row in rows:
        if row["rules"] in (100, 1000):
            size = int(row["rules"])
            indexed = row["tocsin"] / row["hand_index"]
            scanned = row["tocsin_scan"] / row["hand"]
            for what, ratio in (("index / hand-written dict", indexed), ("scan / hand-written scan", scanned)):
                print(f"  {size} rules: tocsin {what} = {ratio:.2f} (target <= 1.2): {_verdict(ratio <= 1.2)}")
    worst = min(row["rule_engine"] / row["tocsin"] for row in rows)
    print(f"  rule-engine / tocsin, worst size = {worst:.0f}x (target >= 40): {_verdict(worst >= 40)}")
    big = next((row for row in rows if row["rules"] == 10000), None)
    if big and base:
        ratio = big["tocsin"] / base
        print(f"  10,000 rules / 100 rules = {ratio:.2f} (target <= 3): {_verdict(ratio <= 3)}")


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    """Parse the options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short timings (noisier)")
    parser.add_argument("--sizes", default="10,100,1000,10000", help="comma-separated rule counts")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    budget, rule_engine_budget = (0.05, 0.1) if options.quick else (0.4, 0.6)
    print(f"routing benchmark: rule counts {sizes}")
    report(run(sizes, budget, rule_engine_budget))


if __name__ == "__main__":
    main()
