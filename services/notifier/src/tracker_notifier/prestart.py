"""Create the notifier database if needed and migrate it.

Run before the worker starts: ``python -m tracker_notifier.prestart``.
"""

from pathlib import Path

from tracker_notifier.config import get_settings
from tracker_runtime.logging import configure_logging
from tracker_runtime.migrations import prepare

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    prepare(MIGRATIONS, settings.database_url)


if __name__ == "__main__":
    main()
