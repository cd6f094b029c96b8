"""Settings of the auth service, from the environment (and ``.env`` in development)."""

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from tracker_auth.keys import private_key_from_pem, public_keys_from_pems
from tracker_runtime.settings import (
    DEFAULT_RABBITMQ_URL,
    FROM_FILE,
    AmqpUrl,
    AsyncpgUrl,
    HttpServiceSettings,
    Port,
    broker_url,
    json_value,
    load_settings,
)
from tracker_runtime.unsubscribe import (
    DEVELOPMENT_SECRET,
    UnsubscribeSecret,
    check_production_secret,
)


class ServiceClient(BaseModel):
    """A service allowed to obtain service tokens (OAuth 2 client credentials)."""

    secret: SecretStr
    scopes: list[str]


def _empty_is_none(value: object) -> object:
    """An empty variable (``AUTH_NEXT_SIGNING_KEY=``) sets nothing."""
    return None if value == "" else value


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None


def _private_key(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        private_key_from_pem(value.get_secret_value().encode())
    return value


def _private_key_file(value: Path | None) -> Path | None:
    if value is not None:
        private_key_from_pem(_read(value))
    return value


def _public_keys(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        public_keys_from_pems(value.get_secret_value().encode())
    return value


def _public_keys_file(value: Path | None) -> Path | None:
    if value is not None:
        public_keys_from_pems(_read(value))
    return value


DEVELOPMENT_SECRET_PREFIX = "dev-"
SERVICE_CLIENTS_EXAMPLE = (
    '{"notifier": {"secret": "dev-notifier-secret", "scopes": ["tasks:summaries"]}}'
)


class Settings(HttpServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_")

    port: Port = 8001
    database_url: Annotated[AsyncpgUrl, FROM_FILE] = (
        "postgresql+asyncpg://tracker_auth:dev-tracker-auth@localhost:5432/tracker_auth"
    )
    rabbitmq_url: Annotated[AmqpUrl, FROM_FILE, broker_url("AUTH_")] = DEFAULT_RABBITMQ_URL
    database_pool_size: int = 10

    signing_key: Annotated[
        SecretStr | None,
        BeforeValidator(_empty_is_none),
        AfterValidator(_private_key),
        Field(description="PEM of the Ed25519 private key that signs access tokens."),
    ] = None
    signing_key_file: Annotated[
        Path | None,
        BeforeValidator(_empty_is_none),
        AfterValidator(_private_key_file),
        Field(description="File holding that PEM, when AUTH_SIGNING_KEY is not set."),
    ] = None
    next_signing_key: Annotated[
        SecretStr | None,
        BeforeValidator(_empty_is_none),
        AfterValidator(_private_key),
        Field(
            description="PEM of the Ed25519 private key that will sign next: published in the "
            "JWKS now, signing only once promoted to AUTH_SIGNING_KEY."
        ),
    ] = None
    next_signing_key_file: Annotated[
        Path | None,
        BeforeValidator(_empty_is_none),
        AfterValidator(_private_key_file),
        Field(description="File holding that PEM, when AUTH_NEXT_SIGNING_KEY is not set."),
    ] = None
    previous_signing_keys: Annotated[
        SecretStr | None,
        BeforeValidator(_empty_is_none),
        AfterValidator(_public_keys),
        Field(
            description="PEM blocks, one after the other, of Ed25519 keys that signed before "
            "AUTH_SIGNING_KEY (public keys suffice): published and accepted, never used to "
            "sign, until the tokens they signed have expired."
        ),
    ] = None
    previous_signing_keys_file: Annotated[
        Path | None,
        BeforeValidator(_empty_is_none),
        AfterValidator(_public_keys_file),
        Field(description="File holding those PEMs, when AUTH_PREVIOUS_SIGNING_KEYS is not set."),
    ] = None
    development_keys_dir: Path = Field(
        default=Path(".secrets"),
        description="Where development generates its signing key once (git-ignored).",
    )

    issuer: str = "task-tracker-auth"
    audience: str = "task-tracker"
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=14)
    session_max_age: timedelta = Field(
        default=timedelta(days=30),
        description="Absolute lifetime of a session (a refresh-token family).",
    )

    service_clients: Annotated[
        dict[str, ServiceClient],
        FROM_FILE,
        NoDecode,
        BeforeValidator(json_value),
        Field(
            default_factory=dict,
            description="JSON: the services that may obtain service tokens.",
            examples=[SERVICE_CLIENTS_EXAMPLE],
        ),
    ]
    service_token_ttl: timedelta = timedelta(minutes=5)

    cookie_secure: bool = Field(
        default=True, description="Mark cookies Secure; turn off only for plain-HTTP development."
    )

    refresh_grace: Annotated[
        timedelta,
        Field(
            ge=timedelta(0),
            le=timedelta(minutes=5),
            description="How long the refresh token just replaced still gets the same "
            "successor (two tabs refreshing at once); after it, presenting it again counts "
            "as reuse and ends the session.",
        ),
    ] = timedelta(seconds=30)

    login_failure_window: timedelta = timedelta(minutes=15)
    login_max_failures_per_account: int = 10
    login_max_failures_per_ip: int = 100

    verification_token_ttl: Annotated[
        timedelta,
        Field(gt=timedelta(0), description="How long a link that confirms the address works."),
    ] = timedelta(days=7)
    password_reset_token_ttl: Annotated[
        timedelta,
        Field(gt=timedelta(0), description="How long a password-reset link works."),
    ] = timedelta(minutes=30)
    account_token_retention: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="How long a confirmation or reset link's digest is kept after it "
            "expired (ISO 8601 duration or seconds).",
        ),
    ] = timedelta(days=1)

    limit_window: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="The window in which registrations and mails are counted for the "
            "limits below.",
        ),
    ] = timedelta(hours=1)
    registrations_per_ip: Annotated[int, Field(ge=1)] = 20
    registrations_per_address: Annotated[int, Field(ge=1)] = 5
    reset_mails_per_ip: Annotated[int, Field(ge=1)] = 20
    reset_mails_per_address: Annotated[int, Field(ge=1)] = 3
    verification_mails_per_ip: Annotated[int, Field(ge=1)] = 20
    verification_mails_per_address: Annotated[int, Field(ge=1)] = 3

    session_retention: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="How long a session and its refresh tokens are kept after it expired "
            "or was revoked, whichever is later (ISO 8601 duration or seconds).",
        ),
    ] = timedelta(days=30)
    cleanup_interval: Annotated[
        timedelta,
        Field(
            gt=timedelta(0),
            description="How often each replica deletes what outlived its retention: ended "
            "sessions, expired confirmation and reset links, finished rate-limit windows "
            "(ISO 8601 duration or seconds).",
        ),
    ] = timedelta(minutes=10)

    unsubscribe_secret: UnsubscribeSecret = SecretStr(DEVELOPMENT_SECRET)

    password_memory_cost_kib: int = 19_456
    password_time_cost: int = 2
    password_hashing_threads: Annotated[int, Field(ge=1)] = 2

    @model_validator(mode="after")
    def _refuse_development_shortcuts_in_production(self) -> Self:
        if self.is_production:
            if self.signing_key is None and self.signing_key_file is None:
                raise ValueError("set AUTH_SIGNING_KEY or AUTH_SIGNING_KEY_FILE in production")
            if not self.cookie_secure:
                raise ValueError("AUTH_COOKIE_SECURE=false is for plain-HTTP development only")
            for client_id, client in self.service_clients.items():
                secret = client.secret.get_secret_value()
                if secret.startswith(DEVELOPMENT_SECRET_PREFIX) or len(secret) < 32:
                    raise ValueError(
                        f"AUTH_SERVICE_CLIENTS: {client_id!r} needs a random secret of at least "
                        "32 characters in production"
                    )
            check_production_secret(self.unsubscribe_secret)
        if self.session_max_age < self.refresh_token_ttl:
            raise ValueError("AUTH_SESSION_MAX_AGE must not be shorter than AUTH_REFRESH_TOKEN_TTL")
        return self


@lru_cache
def get_settings() -> Settings:
    return load_settings(Settings, process="auth")
