"""Every table of the tasks service, registered on :data:`Base.metadata` by importing this."""

from tracker_tasks.db import Base, outbox
from tracker_tasks.live.models import ChangeFeedHead, TaskChange
from tracker_tasks.revocations.models import RevokedSession
from tracker_tasks.tasks.models import Task

__all__ = ["Base", "ChangeFeedHead", "RevokedSession", "Task", "TaskChange", "outbox"]
