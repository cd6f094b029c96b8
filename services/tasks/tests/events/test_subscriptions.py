"""The tasks service's consumer: every event its queue is bound for has a
handler, and every handler is bound."""

from tracker_contracts.messaging import QUEUES, TASKS_EVENTS, TASKS_LIVE
from tracker_tasks.events.subscriptions import LIVE_SUBSCRIPTIONS, SUBSCRIPTIONS


def test_the_queue_binds_exactly_the_events_with_a_handler() -> None:
    [declared] = [queue for queue in QUEUES if queue.name == SUBSCRIPTIONS.queue.name]

    assert SUBSCRIPTIONS.queue is TASKS_EVENTS
    assert SUBSCRIPTIONS.events == set(TASKS_EVENTS.events)
    assert {key for _, key in declared.bindings} == {
        model.EVENT_TYPE.value for model in SUBSCRIPTIONS.events
    }


def test_each_process_binds_its_own_queue_for_the_events_its_streams_need() -> None:
    assert LIVE_SUBSCRIPTIONS.queue is TASKS_LIVE
    assert LIVE_SUBSCRIPTIONS.events == set(TASKS_LIVE.events)
    assert set(TASKS_LIVE.routing_keys) == {
        "task.created",
        "task.updated",
        "task.deleted",
        "session.revoked",
        "user.deleted",
    }
    # Not among the durable queues of the shared topology, which provisioning declares.
    assert all(not queue.name.startswith(TASKS_LIVE.name) for queue in QUEUES)
    assert TASKS_LIVE.queue_name("replica-1") == "tasks.live.replica-1"
