"""Names of the notifier's Celery tasks (the consumer step sends by name)."""

HANDLE_EVENT = "tracker_notifier.handle_event"
SEND_DELIVERY = "tracker_notifier.send_delivery"
SEND_DELIVERIES = "tracker_notifier.send_deliveries"
"""Sends a batch of deliveries (a digest batch) over one SMTP connection."""
