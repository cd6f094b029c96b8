"""Create the tasks database if needed and migrate it: ``python -m tracker_tasks.prestart``."""

from pathlib import Path

from tracker_runtime.logging import configure_logging
from tracker_runtime.migrations import prepare
from tracker_tasks.config import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    prepare(MIGRATIONS, settings.database_url)


if __name__ == "__main__":
    main()
