"""Create the auth database if needed and migrate it: ``python -m tracker_auth.prestart``."""

from tracker_auth.config import get_settings
from tracker_runtime.migrations import migrations_of, prestart

MIGRATIONS = migrations_of("tracker_auth")


def main() -> None:
    prestart(MIGRATIONS, get_settings())


if __name__ == "__main__":
    main()
