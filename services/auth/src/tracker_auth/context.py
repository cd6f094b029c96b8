"""What the auth service builds once at start and every request uses."""

from dataclasses import dataclass

from tracker_auth.config import Settings
from tracker_auth.keys import SigningKey
from tracker_auth.passwords import PasswordHasher
from tracker_runtime.database import Database
from tracker_runtime.tokens import TokenVerifier


@dataclass(frozen=True, slots=True)
class AuthContext:
    settings: Settings
    database: Database
    signing_key: SigningKey
    verifier: TokenVerifier
    hasher: PasswordHasher
