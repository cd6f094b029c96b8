"""Consuming events: the consumer step in the worker, the inbox, the handlers."""
