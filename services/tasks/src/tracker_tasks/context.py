"""What the tasks service builds once at start and every request uses."""

from dataclasses import dataclass

from tracker_runtime.database import Database
from tracker_runtime.tokens import TokenVerifier
from tracker_tasks.config import Settings
from tracker_tasks.live.hub import StreamHub
from tracker_tasks.revocations.known import RevokedSessions


@dataclass(frozen=True, slots=True)
class TasksContext:
    settings: Settings
    database: Database
    verifier: TokenVerifier
    streams: StreamHub
    revocations: RevokedSessions
