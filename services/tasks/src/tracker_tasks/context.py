"""What the tasks service builds once at start and every request uses."""

from dataclasses import dataclass

from tracker_runtime.database import Database
from tracker_runtime.tokens import TokenVerifier
from tracker_tasks.config import Settings
from tracker_tasks.live.hub import StreamHub


@dataclass(frozen=True, slots=True)
class TasksContext:
    settings: Settings
    database: Database
    verifier: TokenVerifier
    streams: StreamHub
