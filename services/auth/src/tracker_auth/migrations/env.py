from tracker_auth.models import Base
from tracker_runtime.alembic_env import run_migrations

run_migrations(Base.metadata)
