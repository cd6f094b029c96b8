"""The notifier's kombu entities against the contract: Celery sends to and consumes the
queues provisioning declares, with the contract's arguments, and never declares them (its
user may not)."""

from typing import Any

import pytest

from tracker_contracts.messaging import (
    DEAD_LETTER_EXCHANGE,
    NOTIFIER_EVENTS,
    NOTIFIER_TASK_EXCHANGE,
    QUEUES,
)
from tracker_runtime import kombu_topology as topology

DECLARED = {queue.name: queue for queue in QUEUES}


@pytest.mark.parametrize("queue", topology.TASK_QUEUES, ids=lambda queue: queue.name)
def test_the_task_queues_are_the_provisioned_ones(queue: Any) -> None:
    declared = DECLARED[queue.name]
    assert queue.no_declare
    assert queue.exchange.no_declare
    assert queue.queue_arguments == declared.arguments
    assert declared.bindings == ((queue.exchange.name, queue.routing_key),)
    assert f"{queue.name}.dead-letter" in DECLARED


def test_the_consumer_queue_is_only_consumed() -> None:
    queue: Any = topology.consumer_queue(NOTIFIER_EVENTS)  # kombu is unannotated
    assert queue.no_declare
    assert queue.queue_arguments == DECLARED[NOTIFIER_EVENTS.name].arguments


def test_the_task_queue_is_a_quorum_queue_that_dead_letters() -> None:
    arguments = topology.TASK_QUEUE_ARGUMENTS
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-dead-letter-exchange"] == DEAD_LETTER_EXCHANGE
    assert arguments["x-dead-letter-routing-key"] == topology.TASK_QUEUE.name
    assert topology.TASK_EXCHANGE.name == NOTIFIER_TASK_EXCHANGE
    assert topology.TASK_EXCHANGE.type == "topic"  # native delayed delivery needs it
