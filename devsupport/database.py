"""Emptying a service's database: every table its models describe, none forgotten."""

import importlib
import pkgutil

from sqlalchemy import MetaData

ALEMBIC_VERSION_TABLE = "alembic_version"
"""Alembic's bookkeeping: emptying it would make the database look unmigrated."""


def import_models(package: str) -> None:
    """Import every ``models`` module below ``package`` (``"tracker_auth"``, say), so that
    each table the service has is registered on its metadata, as its migrations see it."""
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        if module.name.rsplit(".", 1)[-1] == "models":
            importlib.import_module(module.name)


def truncate_statement(
    metadata: MetaData, *, cascade: bool = False, restart_identity: bool = False
) -> str:
    """``TRUNCATE`` of every table of ``metadata`` (but Alembic's), in dependency order:
    referenced tables first. One statement, so a table is never emptied half-way."""
    names = [table.name for table in metadata.sorted_tables if table.name != ALEMBIC_VERSION_TABLE]
    if not names:
        raise ValueError("the metadata has no tables: import the models first")
    quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in names)
    options = (" RESTART IDENTITY" if restart_identity else "") + (" CASCADE" if cascade else "")
    return f"TRUNCATE {quoted}{options}"
