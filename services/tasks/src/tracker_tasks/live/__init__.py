"""The live stream of a person's task changes (``GET /api/tasks/events``): the change feed
kept in the database, the streams held by this process, and the fan-out between them."""
