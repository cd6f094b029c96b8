"""What the auth service builds once at start and every request uses."""

from dataclasses import dataclass

from tracker_auth.config import Settings
from tracker_auth.keys import KeyRing, SigningKey
from tracker_auth.passwords import PasswordHasher
from tracker_runtime.database import Database
from tracker_runtime.tokens import TokenVerifier


@dataclass(frozen=True, slots=True)
class AuthContext:
    settings: Settings
    database: Database
    keys: KeyRing
    verifier: TokenVerifier
    hasher: PasswordHasher

    @property
    def signing_key(self) -> SigningKey:
        """The one key that signs tokens."""
        return self.keys.current
