"""The compiled pieces of a schedule: layers, override timelines, and the instants where on-call may change.

Private to the kernel: :mod:`tocsin.schedules.resolver` builds these once per schedule. All times are ``int``
seconds: instants are UTC seconds, wall-clock times are wall-clock seconds (:mod:`tocsin.wallclock`).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

import attrs

from tocsin.errors import FieldError
from tocsin.models import OnCallSchedule, Override, ScheduleLayer
from tocsin.registry import Registry
from tocsin.rotation import Handoffs, Rotation, Shifts
from tocsin.schedules.windows import WeeklyWindows, weekly_windows
from tocsin.wallclock import Zone, seconds, wall_seconds

__all__ = [
    "DEFAULT_START",
    "CompiledLayer",
    "Timeline",
    "change_points",
    "compile_layer",
    "compile_layers",
    "compile_rotation",
    "override_spans",
    "override_timelines",
]

DEFAULT_START = datetime(2020, 1, 1)  # a layer without ``start`` starts at its first handoff at or after this


class Timeline:
    """Override windows flattened into disjoint ``(start, end, user)`` segments, in order. Where overrides
    overlap, the one listed later wins; touching segments of the same user are merged."""

    __slots__ = ("_ends", "_starts", "_users")

    def __init__(self, segments: list[tuple[int, int, str]]) -> None:
        self._starts = [start for start, _, _ in segments]
        self._ends = [end for _, end, _ in segments]
        self._users = [user for _, _, user in segments]

    @classmethod
    def build(cls, overrides: Iterable[tuple[int, int, str]]) -> Timeline | None:
        """Flatten ``(start, end, user)`` overrides given in list order; None when there are none."""
        items = [item for item in overrides if item[1] > item[0]]
        if not items:
            return None
        starting: dict[int, list[int]] = {}
        ending: dict[int, list[int]] = {}
        for index, (start, end, _) in enumerate(items):
            starting.setdefault(start, []).append(index)
            ending.setdefault(end, []).append(index)
        active: set[int] = set()
        heap: list[int] = []  # negated indexes: the top is the override listed last
        segments: list[tuple[int, int, str]] = []
        times = sorted(starting.keys() | ending.keys())
        for at, following in itertools.pairwise(times):
            active.difference_update(ending.get(at, ()))
            for index in starting.get(at, ()):
                active.add(index)
                heapq.heappush(heap, -index)
            while heap and -heap[0] not in active:
                heapq.heappop(heap)
            if not heap:
                continue
            user = items[-heap[0]][2]
            if segments and segments[-1][1] == at and segments[-1][2] == user:
                segments[-1] = (segments[-1][0], following, user)
            else:
                segments.append((at, following, user))
        return cls(segments)

    def at(self, instant: int) -> int | None:
        """The index of the segment holding ``instant``, or None."""
        index = bisect.bisect_right(self._starts, instant) - 1
        return index if index >= 0 and instant < self._ends[index] else None

    def segment(self, index: int) -> tuple[int, int, str]:
        """``(start, end, user)`` of segment ``index``."""
        return self._starts[index], self._ends[index], self._users[index]

    def gap_around(self, instant: int, low: int, high: int) -> tuple[int, int]:
        """Narrow ``[low, high)`` to the stretch around ``instant`` (outside every segment) with no override."""
        index = bisect.bisect_right(self._starts, instant)
        if index > 0:
            low = max(low, self._ends[index - 1])
        if index < len(self._starts):
            high = min(high, self._starts[index])
        return low, high

    def edges(self, start: int, end: int) -> Iterator[int]:
        """Every segment start and end in ``(start, end)``, in order."""
        for index in range(bisect.bisect_right(self._ends, start), len(self._starts)):
            if self._starts[index] >= end:
                return
            yield self._starts[index]
            yield self._ends[index]


@attrs.frozen
class CompiledLayer:
    """A layer ready for lookups: its users (``size`` of them), where shift 0 starts (wall clock and instant),
    its handoffs, restriction windows (None: always active), overrides (None: none), whether its user ever
    changes, and ``chooser``, the rotation's own ``holder(k)`` when it chooses who (None: ``users[k mod size]``)."""

    name: str
    users: tuple[str, ...]
    start: int
    first: int
    handoffs: Handoffs
    windows: WeeklyWindows | None
    overrides: Timeline | None
    rotates: bool
    chooser: Callable[[int], str] | None = None
    size: int = attrs.field(init=False)

    @size.default
    def _size(self) -> int:
        return len(self.users)

    def holder(self, index: int) -> str:
        """Who holds shift ``index``."""
        return self.users[index % self.size] if self.chooser is None else self.chooser(index)


def _handoff_points(zone: Zone, layer: CompiledLayer, start: int, end: int) -> Iterator[int]:
    wall = zone.wall(start)
    index = layer.handoffs.index(wall) if wall >= layer.start else 0
    while True:
        index += 1
        point = zone.instant(layer.handoffs.handoff(index))
        if point >= end:
            return
        yield point


def _window_points(zone: Zone, windows: WeeklyWindows, start: int, end: int) -> Iterator[int]:
    for low, high in windows.between(zone.wall(start), zone.wall(end) + 1):
        yield zone.instant(low)
        yield zone.instant(high)


def change_points(
    zone: Zone, layers: Iterable[CompiledLayer], final: Timeline | None, start: int, end: int
) -> Iterator[int]:
    """Every instant in ``(start, end)`` where who is on call may change, in order, each once: layer starts,
    handoffs to a different user, restriction windows opening and closing, override edges."""
    sources: list[Iterator[int]] = []
    for layer in layers:
        if start < layer.first < end:
            sources.append(iter((layer.first,)))
        if layer.rotates:
            sources.append(_handoff_points(zone, layer, start, end))
        if layer.windows is not None:
            sources.append(_window_points(zone, layer.windows, start, end))
        if layer.overrides is not None:
            sources.append(layer.overrides.edges(start, end))
    if final is not None:
        sources.append(final.edges(start, end))
    last = start
    for point in heapq.merge(*sources):
        if point >= end:
            return
        if point > last:
            yield point
            last = point


def compile_rotation(layer: ScheduleLayer, registry: Registry) -> Rotation:
    """The layer's rotation, compiled by the plugin that registered its type (errors propagate)."""
    entry = registry.rotations.get(layer.rotation.type)
    rotation = entry.compile(layer.rotation)
    if not isinstance(rotation, Rotation):
        plugin = registry.rotations.entry(layer.rotation.type).plugin
        raise ValueError(
            f"rotation {layer.rotation.type!r} of plugin {plugin!r} compiled to {rotation!r}, "
            "which is not a tocsin.rotation.Rotation (first_handoff and anchor)"
        )
    return rotation


def _layer_start(layer: ScheduleLayer, rotation: Rotation, zone: Zone) -> int:
    if layer.start is None:
        return rotation.first_handoff(wall_seconds(DEFAULT_START))
    if layer.start.tzinfo is not None and layer.start.utcoffset() is not None:
        return zone.wall(seconds(layer.start))
    return wall_seconds(layer.start)


def override_spans(
    overrides: Iterable[Override], layer_names: Iterable[str], zone: Zone
) -> tuple[dict[str, list[tuple[int, int, str]]], list[tuple[int, int, str]]]:
    """The spans ``(start, end, user)`` of ``overrides`` in list order: one list per layer name, and one of the
    whole schedule (overrides without ``layer``).

    :raises ValueError: an override naming a layer not in ``layer_names``.
    """
    by_name: dict[str, list[tuple[int, int, str]]] = {name: [] for name in layer_names}
    final: list[tuple[int, int, str]] = []
    for override in overrides:
        span = (zone.resolve(override.start), zone.resolve(override.end), override.user)
        if override.layer is None:
            final.append(span)
        elif override.layer in by_name:
            by_name[override.layer].append(span)
        else:
            raise ValueError(f"override for {override.user!r} names unknown layer {override.layer!r}")
    return by_name, final


def override_timelines(
    overrides: Iterable[Override], layer_names: Iterable[str], zone: Zone
) -> tuple[dict[str, Timeline | None], Timeline | None]:
    """The timelines of ``overrides`` (in list order: a later one wins where two overlap): one per layer name,
    and the one of the whole schedule (overrides without ``layer``).

    :raises ValueError: an override naming a layer not in ``layer_names``.
    """
    by_name, final = override_spans(overrides, layer_names, zone)
    return {name: Timeline.build(spans) for name, spans in by_name.items()}, Timeline.build(final)


def compile_layer(
    layer: ScheduleLayer, registry: Registry, zone: Zone, overrides: Iterable[tuple[int, int, str]] = ()
) -> CompiledLayer:
    """One layer ready for lookups.

    :raises FieldError: naming ``users`` (a rotation that hands shifts to the layer's users and none are listed,
        or one that chooses who and some are) or ``rotation`` (``rotation.<field>`` when the plugin names it):
        what the rotation's plugin raised, or handoffs that are not usable.
    """
    type_ = layer.rotation.type
    plugin = registry.rotations.entry(type_).plugin if type_ in registry.rotations else None
    try:
        rotation = compile_rotation(layer, registry)
        start = _layer_start(layer, rotation, zone)
        handoffs = rotation.anchor(start)
        chooser = handoffs.holder if isinstance(handoffs, Shifts) else None
        if chooser is not None:
            _usable_holders(chooser, type_)
    except FieldError as exc:
        raise FieldError(f"rotation.{exc.field}", exc.message) from None
    except (ValueError, LookupError) as exc:  # the settings are wrong, or the type is unknown
        raise FieldError("rotation", str(exc) or type(exc).__name__) from None
    except Exception as exc:  # the plugin's own bug
        raise FieldError(
            "rotation", f"plugin {plugin!r}: rotation {type_!r} raised {type(exc).__name__}: {exc}"
        ) from None
    if chooser is not None and layer.users:
        raise FieldError("users", f"rotation {type_!r} chooses who holds each shift: leave out the layer's users")
    if chooser is None and not layer.users:
        raise FieldError("users", f"needs at least one user: rotation {type_!r} hands its shifts to them in turn")
    return CompiledLayer(
        name=layer.name,
        users=layer.users,
        start=start,
        first=zone.instant(start),
        handoffs=handoffs,
        windows=weekly_windows(layer.restrictions),
        overrides=Timeline.build(overrides),
        rotates=chooser is not None or len(set(layer.users)) > 1,
        chooser=chooser,
    )


def _usable_holders(holder: Callable[[int], str], type_: str) -> None:
    for index in (0, 1):
        held = holder(index)
        if not isinstance(held, str) or not held:
            raise ValueError(f"rotation {type_!r} says shift {index} is held by {held!r}, not a user")


def compile_layers(
    schedule: OnCallSchedule, registry: Registry, zone: Zone
) -> tuple[list[CompiledLayer], Timeline | None]:
    """The schedule's layers ready for lookups, and the timeline of overrides of the whole schedule.

    :raises ValueError: two layers with one name, an override naming an unknown layer, or a layer that does not
        compile (the message says which).
    """
    names: set[str] = set()
    for layer in schedule.layers:
        if layer.name in names:
            raise ValueError(f"two layers are named {layer.name!r}")
        names.add(layer.name)
    by_name, final = override_spans(schedule.overrides, names, zone)
    layers = []
    for layer in schedule.layers:
        try:
            layers.append(compile_layer(layer, registry, zone, by_name[layer.name]))
        except FieldError as exc:
            raise ValueError(f"layer {layer.name!r}: {exc.field}: {exc.message}") from None
    return layers, Timeline.build(final)
