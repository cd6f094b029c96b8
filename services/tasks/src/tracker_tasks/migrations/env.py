import tracker_tasks.revocations.models
import tracker_tasks.tasks.models  # noqa: F401  (registers the tables on the metadata)
from tracker_runtime.alembic_env import run_migrations
from tracker_tasks.db import Base

run_migrations(Base.metadata)
