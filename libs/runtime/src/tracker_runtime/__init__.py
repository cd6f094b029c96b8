"""Runtime plumbing shared by the task-tracker services.

Settings, logging, the error body, request parsing, database sessions, the transactional
outbox, request security and access-token verification live here once, so that no
service carries its own copy.
"""
