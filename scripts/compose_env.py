"""Write a ``compose/.env`` for running the stack on this machine (``make up``).

Usage: ``python3 scripts/compose_env.py compose/.env``. Starts from ``compose/.env.example``,
fills every secret with a fresh random value (and a fresh Ed25519 signing key), and points
the stack at ``http://tracker.localhost`` and at the mail catcher. Refuses to overwrite an
existing file. A server's ``.env`` is written by its operator instead (README, "Deploy with
Docker"). Standard library only, so it runs before anything is installed.
"""

import base64
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
    "SMTP_PASSWORD": "",
    "MAIL_FROM": '"task-tracker <no-reply@tracker.localhost>"',
    "COMPOSE_PROFILES": "mailcatcher",
}
RANDOM_SECRETS = (
    "POSTGRES_PASSWORD",
    "RABBITMQ_PASSWORD",
    "NOTIFIER_CLIENT_SECRET",
    "UNSUBSCRIBE_SECRET",
)


def ed25519_pem() -> str:
    der = ED25519_PKCS8_PREFIX + secrets.token_bytes(32)
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"


def local_values() -> dict[str, str]:
    values = dict(LOCAL_VALUES)
    values.update({name: secrets.token_hex(32) for name in RANDOM_SECRETS})
    values["AUTH_SIGNING_KEY"] = f'"{ed25519_pem()}"'
    return values


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
    if target.exists():
        raise SystemExit(f"{target} exists already; remove it to generate a new one")
    content = render(EXAMPLE.read_text(), local_values())
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content)
    print(f"wrote {target} for local use, with fresh random secrets")


if __name__ == "__main__":
    main(sys.argv[1:])
