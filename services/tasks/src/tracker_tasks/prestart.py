"""Create the tasks database if needed and migrate it: ``python -m tracker_tasks.prestart``."""

from pathlib import Path

from tracker_runtime.migrations import prestart
from tracker_tasks.config import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def main() -> None:
    settings = get_settings()
    prestart(MIGRATIONS, settings, settings.database_url)


if __name__ == "__main__":
    main()
