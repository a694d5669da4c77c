"""The evaluation plan: enabled rules in evaluation order, looked up by field value where they allow it.

A rule with an ``equals``/``in`` condition (any operator that gives index ``keys``) is filed under that
field's value(s); an incident then only tries the rules filed under its own value, plus the rules that have
no such condition. The candidates run in evaluation order (priority descending, ties in definition order)
with the indexed condition already settled, so the answer is exactly that of a plain scan.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from tocsin.logs import get_logger
from tocsin.models import Incident
from tocsin.routing.compile import CompiledRule, conjunction
from tocsin.values import index_key

__all__ = ["RulePlan", "evaluation_order"]

# One candidate: its position in evaluation order, the rule, what is left to check, whether a match ends
# evaluation. Buckets hold these tuples themselves, so a lookup touches as few objects as possible.
_Slot = tuple[int, CompiledRule, Callable[[Incident], Any], bool]


def evaluation_order(rules: Sequence[CompiledRule]) -> list[CompiledRule]:
    """``rules`` by priority, higher first; ties keep definition order."""
    return sorted(rules, key=lambda compiled: (-compiled.rule.priority, compiled.order))


class RulePlan:
    """The enabled rules, ready to match incidents. Built once per rule set; never changes afterwards.

    :param indexed: file rules by field value (the default); False scans every rule (same answers).
    """

    def __init__(self, rules: Sequence[CompiledRule], *, indexed: bool = True) -> None:
        self.rules: list[CompiledRule] = evaluation_order([r for r in rules if r.rule.enabled])
        self.indexed_rules = 0
        self._scan: list[_Slot] = []
        slots: list[_Slot] = []
        choice = _choose_keys(self.rules) if indexed else {}
        getters: dict[str, Callable[[Incident], Any]] = {}
        buckets: dict[str, dict[Hashable, list[_Slot]]] = {}
        for position, compiled in enumerate(self.rules):
            conditions = compiled.conditions.conditions
            keyed = choice.get(position)
            if keyed is None:
                slot = (position, compiled, compiled.conditions.predicate, compiled.rule.stop)
                slots.append(slot)
                self._scan.append(slot)
                continue
            condition = conditions[keyed]
            rest = conjunction([c for i, c in enumerate(conditions) if i != keyed])
            slot = (position, compiled, rest, compiled.rule.stop)
            slots.append(slot)
            field = condition.condition.field
            getters.setdefault(field, condition.get)
            table = buckets.setdefault(field, {})
            for key in condition.keys or ():
                table.setdefault(key, []).append(slot)
            self.indexed_rules += 1
        self._slots = slots
        self._lookups = [(getters[field], table) for field, table in buckets.items()]
        self.index_fields: list[str] = list(buckets)  # the fields rules are looked up by (empty: a scan)

    def match(self, incident: Incident) -> list[CompiledRule]:
        """The rules that match ``incident``, in evaluation order, ending after a matching ``stop`` rule.

        A condition that times out or fails counts as no match and is logged once per rule.
        """
        lookups = self._lookups
        candidates: list[_Slot]
        if not lookups:
            candidates = self._slots
        elif len(lookups) == 1 and not self._scan:
            get, table = lookups[0]
            candidates = _hits(get, table, incident)
        else:
            candidates = list(self._scan)
            for get, table in lookups:
                candidates += _hits(get, table, incident)
            candidates.sort()  # positions are unique: only the first item of each tuple is compared
        matched: list[CompiledRule] = []
        for _, compiled, check, stop in candidates:
            try:
                if check(incident):
                    matched.append(compiled)
                    if stop:
                        break
            except Exception as exc:
                report_failure(compiled, exc)
        return matched


def _hits(get: Callable[[Incident], Any], table: dict[Hashable, list[_Slot]], incident: Incident) -> list[_Slot]:
    try:
        value = get(incident)
    except Exception:  # the scan would count the same condition as failed: no match either way
        return []
    return table.get(value if type(value) is str else index_key(value)) or []


def report_failure(compiled: CompiledRule, exc: Exception) -> None:
    """Log, once per rule, that one of its conditions timed out or failed (it counted as no match)."""
    if compiled.reported:
        return
    compiled.reported = True
    log = get_logger(component="routing", rule=compiled.name)
    if isinstance(exc, TimeoutError):
        log.warning("routing.condition_timed_out", detail="a condition ran out of time; counted as no match")
    else:
        log.error("routing.condition_failed", error=f"{type(exc).__name__}: {exc}")


# The plan's cost model, in "candidate checks" per incident: a lookup costs about one check, and merging
# several candidate lists (more than one lookup, or lookups plus scanned rules) about half of one.
_LOOKUP_COST = 1.0
_MERGE_COST = 0.5


def _choose_keys(rules: Sequence[CompiledRule]) -> dict[int, int]:
    """position -> index of the condition the rule is filed by.

    Each rule starts with the condition that lets the fewest incidents reach it (its keys' share of all the
    values its field is keyed on). Then, while it lowers the expected work per incident, a field that only
    a few rules are filed by is given up and those rules move to their best remaining field (or the scan).
    """
    distinct: dict[str, set[Hashable]] = {}
    for compiled in rules:
        for condition in compiled.conditions.conditions:
            if condition.keys is not None:
                distinct.setdefault(condition.condition.field, set()).update(condition.keys)
    options: list[dict[str, tuple[float, int]]] = []
    for compiled in rules:
        best: dict[str, tuple[float, int]] = {}
        for index, condition in enumerate(compiled.conditions.conditions):
            if condition.keys is None:
                continue
            field = condition.condition.field
            share = len(condition.keys) / (len(distinct[field]) or 1)  # the share of values that reach the rule
            if field not in best or share < best[field][0]:
                best[field] = (share, index)
        options.append(best)
    assigned = [min(best, key=lambda field: best[field][0]) if best else None for best in options]
    while True:
        used = {field for field in assigned if field is not None}
        trials = [_without(assigned, options, field) for field in sorted(used, key=assigned.count)]
        better = [trial for trial in trials if _cost(trial, options) < _cost(assigned, options)]
        if not better:
            break
        assigned = min(better, key=lambda trial: _cost(trial, options))
    return {position: options[position][field][1] for position, field in enumerate(assigned) if field is not None}


def _without(assigned: list[str | None], options: list[dict[str, tuple[float, int]]], dropped: str) -> list[str | None]:
    kept = {field for field in assigned if field is not None and field != dropped}
    moved: list[str | None] = []
    for field, best in zip(assigned, options, strict=True):
        if field != dropped:
            moved.append(field)
            continue
        alternatives = [name for name in best if name in kept]
        moved.append(min(alternatives, key=lambda name: best[name][0]) if alternatives else None)
    return moved


def _cost(assigned: list[str | None], options: list[dict[str, tuple[float, int]]]) -> float:
    lookups = len({field for field in assigned if field is not None})
    scanned = assigned.count(None)
    candidates = sum(best[field][0] for field, best in zip(assigned, options, strict=True) if field is not None)
    merging = lookups > 1 or (lookups == 1 and scanned > 0)
    return candidates + scanned + _LOOKUP_COST * lookups + (_MERGE_COST if merging else 0.0)
