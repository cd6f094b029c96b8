"""Kept for the test fixtures that import the queue from here: every name of the topology
lives in ``tracker_contracts.messaging``; import from there."""

from tracker_contracts.messaging import TASKS_SESSION_EVENTS

__all__ = ["TASKS_SESSION_EVENTS"]
