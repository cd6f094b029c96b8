"""The tasks service's consumer of session events: every event its queue is bound for has a
handler, and every handler is bound."""

from tracker_contracts.messaging import QUEUES, TASKS_EVENTS
from tracker_tasks.revocations.subscriptions import SESSION_EVENTS


def test_the_queue_binds_exactly_the_events_with_a_handler() -> None:
    [declared] = [queue for queue in QUEUES if queue.name == SESSION_EVENTS.queue.name]

    assert SESSION_EVENTS.queue is TASKS_EVENTS
    assert SESSION_EVENTS.events == set(TASKS_EVENTS.events)
    assert {key for _, key in declared.bindings} == {
        model.EVENT_TYPE.value for model in SESSION_EVENTS.events
    }
