"""The tasks service's tables share one metadata; the outbox table is defined there too."""

from sqlalchemy.orm import DeclarativeBase

from tracker_runtime.database import new_metadata
from tracker_runtime.outbox import define_outbox_table


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox = define_outbox_table(Base.metadata)
