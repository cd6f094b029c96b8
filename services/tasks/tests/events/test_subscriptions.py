"""The tasks service's consumer: every event its queue is bound for has a
handler, and every handler is bound."""

from tracker_contracts.messaging import QUEUES, TASKS_EVENTS
from tracker_tasks.events.subscriptions import SUBSCRIPTIONS


def test_the_queue_binds_exactly_the_events_with_a_handler() -> None:
    [declared] = [queue for queue in QUEUES if queue.name == SUBSCRIPTIONS.queue.name]

    assert SUBSCRIPTIONS.queue is TASKS_EVENTS
    assert SUBSCRIPTIONS.events == set(TASKS_EVENTS.events)
    assert {key for _, key in declared.bindings} == {
        model.EVENT_TYPE.value for model in SUBSCRIPTIONS.events
    }
