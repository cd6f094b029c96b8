"""Create the notifier database if needed and migrate it, before the worker starts:
``python -m tracker_notifier.prestart``."""

from tracker_notifier.config import get_settings
from tracker_runtime.migrations import migrations_of, prestart

MIGRATIONS = migrations_of("tracker_notifier")


def main() -> None:
    prestart(MIGRATIONS, get_settings())


if __name__ == "__main__":
    main()
