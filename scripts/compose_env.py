"""Write a ``compose/.env`` and the secrets beside it for running the stack on this machine
(``make up``).

Usage: ``python3 scripts/compose_env.py compose/.env``. Starts from ``compose/.env.example``,
points the stack at ``http://tracker.localhost`` and at the mail catcher, and writes every
secret the Compose file names into ``secrets/`` beside the ``.env``, each a file with a fresh
random value: a password for each administrator (PostgreSQL, RabbitMQ) and for each
service's own role and broker user, in the URLs that name them; the notifier's client
secret (and auth's list of clients holding it); the unsubscribe secret; a fresh Ed25519
signing key. Refuses to overwrite an existing file. On a server the operator runs the same,
then sets the public address and the mail server in ``.env`` and the SMTP password in
``secrets/smtp_password`` (README, "Deploy with Docker"). Standard library only, so it runs
before anything is installed.
"""

import base64
import json
import os
import secrets
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "compose" / ".env.example"

# RFC 8410: an Ed25519 private key in PKCS#8 is this fixed prefix followed by its 32-byte seed.
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")

LOCAL_VALUES = {
    "PUBLIC_URL": "http://tracker.localhost",
    "SMTP_HOST": "mailcatcher",
    "SMTP_PORT": "1025",
    "SMTP_SECURITY": "none",
    "SMTP_USERNAME": "",
    "MAIL_FROM": '"task-tracker <no-reply@tracker.localhost>"',
    "COMPOSE_PROFILES": "mailcatcher",
}
SECRETS_FOLDER = "secrets"
DATABASES = {
    "auth": ("postgresql+asyncpg", "tracker_auth"),
    "tasks": ("postgresql+asyncpg", "tracker_tasks"),
    "notifier": ("postgresql+psycopg", "tracker_notifier"),
}
"""Each service with a database: its driver and its database, owned by a role of its name."""
BROKER_USERS = ("auth", "tasks", "notifier", "scheduler")
"""Each process with a RabbitMQ user of its own."""


def ed25519_pem() -> str:
    der = ED25519_PKCS8_PREFIX + secrets.token_bytes(32)
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"


def local_values() -> dict[str, str]:
    """The settings of ``.env`` for running the stack on this machine."""
    return dict(LOCAL_VALUES)


def new_secrets() -> dict[str, str]:
    """Every secret file's content (by the secret's name in the Compose file), fresh."""
    postgres, rabbitmq, client = (secrets.token_hex(32) for _ in range(3))
    found = {
        "postgres_password": postgres,
        "postgres_admin_url": f"postgresql://tracker:{postgres}@postgres:5432/postgres",
        "rabbitmq_admin_conf": f"default_user = tracker\ndefault_pass = {rabbitmq}\n",
        "rabbitmq_admin_url": f"http://tracker:{rabbitmq}@rabbitmq:15672/",
        "notifier_client_secret": client,
        "auth_service_clients": json.dumps(
            {"notifier": {"secret": client, "scopes": ["tasks:summaries"]}}
        ),
        "unsubscribe_secret": secrets.token_hex(32),
        "auth_signing_key": ed25519_pem() + "\n",
        "smtp_password": "",
    }
    for service, (driver, database) in DATABASES.items():
        password = secrets.token_hex(32)
        found[f"{service}_database_url"] = (
            f"{driver}://{service}:{password}@postgres:5432/{database}"
        )
    for user in BROKER_USERS:
        found[f"{user}_rabbitmq_url"] = f"amqp://{user}:{secrets.token_hex(32)}@rabbitmq:5672/"
    return found


def write_new(path: Path, content: str, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w") as file:
        file.write(content)


def render(example: str, values: dict[str, str]) -> str:
    """The example with each ``NAME=`` line whose name is in ``values`` set to that value."""
    lines = []
    for line in example.splitlines():
        name, separator, _ = line.partition("=")
        filled = separator and not line.startswith("#") and name in values
        lines.append(f"{name}={values[name]}" if filled else line)
    return "\n".join(lines) + "\n"


def main(arguments: list[str]) -> None:
    if len(arguments) != 1:
        raise SystemExit(__doc__)
    target = Path(arguments[0])
    folder = target.parent / SECRETS_FOLDER
    if target.exists() or folder.exists():
        raise SystemExit(f"{target} or {folder} exists already; remove it to generate anew")
    write_new(target, render(EXAMPLE.read_text(), local_values()), 0o600)
    # The folder is the owner's alone; each file is readable by the unprivileged users the
    # containers run as (Compose mounts the file, not the folder).
    folder.mkdir(mode=0o700)
    for name, content in new_secrets().items():
        write_new(folder / name, content, 0o644)
    print(f"wrote {target} and {folder}/ for local use, with fresh random secrets")


if __name__ == "__main__":
    main(sys.argv[1:])
