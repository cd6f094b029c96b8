"""The notifier's consumer: every event its queue is bound for has a handler, and every
handler is bound."""

from tracker_contracts.messaging import NOTIFIER_EVENTS, QUEUES
from tracker_notifier.events.subscriptions import SUBSCRIPTIONS
from tracker_runtime.kombu_topology import consumer_queue


def test_the_queue_binds_exactly_the_events_with_a_handler() -> None:
    [declared] = [queue for queue in QUEUES if queue.name == SUBSCRIPTIONS.queue.name]
    consumed: object = consumer_queue(SUBSCRIPTIONS.queue)  # kombu is unannotated

    assert SUBSCRIPTIONS.queue is NOTIFIER_EVENTS
    assert SUBSCRIPTIONS.events == set(NOTIFIER_EVENTS.events)
    assert {key for _, key in declared.bindings} == {
        model.EVENT_TYPE.value for model in SUBSCRIPTIONS.events
    }
    assert getattr(consumed, "name", None) == SUBSCRIPTIONS.queue.name
