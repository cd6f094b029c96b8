from tracker_runtime.alembic_env import run_migrations
from tracker_tasks.models import Base

run_migrations(Base.metadata)
