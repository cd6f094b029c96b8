"""Deliveries: one row per mail to send, with its state, attempts and outcome."""
