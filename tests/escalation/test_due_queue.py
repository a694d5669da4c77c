"""The due-queue against a plain dict model, and the monitor waking on a change."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st
from support.escalation import START, at, engine, incident, level, page_times, policy, user

import tocsin
from tocsin.escalation.due_queue import DueQueue

KEYS = st.sampled_from([f"inc-{n}" for n in range(6)])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), KEYS, st.integers(0, 50)),
        st.tuples(st.just("remove"), KEYS, st.just(0)),
        st.tuples(st.just("pop"), st.just(""), st.integers(0, 50)),
    ),
    max_size=200,
)


@given(OPERATIONS)
def test_the_due_queue_pops_exactly_what_a_plain_model_says_is_due(operations):
    queue = DueQueue()
    model: dict[str, int] = {}
    for operation, key, value in operations:
        if operation == "schedule":
            queue.schedule(key, value)
            model[key] = value
        elif operation == "remove":
            queue.remove(key)
            model.pop(key, None)
        else:
            due = sorted((when, k) for k, when in model.items() if when <= value)
            popped = queue.pop_due(value)
            assert sorted(popped) == sorted(k for _, k in due)
            assert [model[k] for k in popped] == sorted(model[k] for k in popped)  # earliest first
            for _, k in due:
                del model[k]
        assert len(queue) == len(model)
        assert queue.next_due() == (min(model.values()) if model else None)
        assert all(key in queue for key in model)


async def test_the_monitor_wakes_up_when_a_change_makes_something_due_sooner():
    clock = tocsin.ManualClock(START)
    eng = engine(clock).with_check_interval(3600)
    eng.register_policy(policy("p", level(2, user("a@x")), level(5, user("b@x"))))
    monitor = asyncio.create_task(eng.run_monitor())
    try:
        await _until(lambda: eng.monitor.asleep_until is not None)
        assert eng.monitor.asleep_until == at(60)  # nothing scheduled: the check interval bounds the sleep
        eng.start_escalation(incident(), "p")  # level 0 is due at 2m, sooner than the sleep ends
        await _until(lambda: eng.monitor.asleep_until == at(2))
        clock.set(at(2))
        eng.monitor.wake()
        await _until(lambda: page_times(eng) == [2])
        assert eng.monitor.asleep_until == at(7)
    finally:
        eng.stop_monitor()
        await asyncio.wait_for(monitor, 5)
    assert page_times(eng) == [2]


async def _until(condition, rounds: int = 500) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")
