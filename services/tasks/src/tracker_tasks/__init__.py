"""task-tracker tasks: a person's task list, its events and the internal summaries API."""
