"""Create the auth database if needed and migrate it: ``python -m tracker_auth.prestart``."""

from pathlib import Path

from tracker_auth.config import get_settings
from tracker_runtime.migrations import prestart

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def main() -> None:
    settings = get_settings()
    prestart(MIGRATIONS, settings, settings.database_url)


if __name__ == "__main__":
    main()
