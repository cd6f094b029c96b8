"""Reminders: the notifier's projection of each task's reminder, and the tick that fires them."""
