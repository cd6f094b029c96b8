"""Create the tasks database if needed and migrate it: ``python -m tracker_tasks.prestart``."""

from tracker_runtime.migrations import migrations_of, prestart
from tracker_tasks.config import get_settings

MIGRATIONS = migrations_of("tracker_tasks")


def main() -> None:
    prestart(MIGRATIONS, get_settings())


if __name__ == "__main__":
    main()
