"""Create the notifier database if needed and migrate it.

Run before the worker starts: ``python -m tracker_notifier.prestart``.
"""

from pathlib import Path

from tracker_notifier.config import get_settings
from tracker_runtime.migrations import prestart

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def main() -> None:
    settings = get_settings()
    prestart(MIGRATIONS, settings, settings.database_url)


if __name__ == "__main__":
    main()
