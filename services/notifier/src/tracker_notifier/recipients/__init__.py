"""Recipients: the notifier's projection of users (address, timezone, digest choice)."""
