import tracker_auth.limits.models
import tracker_auth.sessions.models
import tracker_auth.users.models  # noqa: F401  (registers the tables on the metadata)
from tracker_auth.db import Base
from tracker_runtime.alembic_env import run_migrations

run_migrations(Base.metadata)
