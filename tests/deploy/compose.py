"""Read the Compose file as ``docker compose`` does, for checks that cannot run Docker:
the ``.env`` file, ``${NAME...}`` interpolation (with ``:-``, ``-``, ``:?``, ``?``, ``:+``,
``+`` and ``$$``) and YAML merge keys."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
BUILD_FILE = COMPOSE_DIR / "compose.build.yaml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"

REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(Exception):
    """A required variable (``${NAME:?message}``) is unset or empty."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


@dataclass(frozen=True)
class Reference:
    name: str
    operator: str  # "", ":-", "-", ":?", "?", ":+" or "+"

    @property
    def required(self) -> bool:
        return self.operator in {":?", "?"}


def interpolate(value: str, environment: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("plain")
        operator = match.group("operator") or ""
        argument = match.group("argument") or ""
        present = name in environment
        filled = present and environment[name] != ""
        if operator in {":?", "?"}:
            if not (filled if operator == ":?" else present):
                raise MissingVariableError(name, argument)
        elif (operator == ":-" and not filled) or (operator == "-" and not present):
            return argument
        elif operator == ":+":
            return argument if filled else ""
        elif operator == "+":
            return argument if present else ""
        return environment.get(name, "")

    return REFERENCE.sub(substitute, value)


def references(text: str) -> list[Reference]:
    found = []
    for match in REFERENCE.finditer(text):
        name = match.group("braced") or match.group("plain")
        if name:
            found.append(Reference(name, match.group("operator") or ""))
    return found


def references_in(node: Any) -> list[Reference]:
    """Every ``${NAME...}`` in the values of a loaded Compose file (comments are not read)."""
    if isinstance(node, str):
        return references(node)
    if isinstance(node, list):
        return [found for item in node for found in references_in(item)]
    if isinstance(node, dict):
        return [found for item in node.values() for found in references_in(item)]
    return []


def _interpolate_tree(node: Any, environment: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, environment)
    if isinstance(node, list):
        return [_interpolate_tree(item, environment) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(item, environment) for key, item in node.items()}
    return node


def load(path: Path, environment: dict[str, str]) -> dict[str, Any]:
    """The Compose file with its anchors merged and its variables filled in."""
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    result: dict[str, Any] = _interpolate_tree(document, environment)
    return result


def load_raw(path: Path) -> dict[str, Any]:
    """The Compose file with its anchors merged and its ``${...}`` left as written."""
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


SECRETS_MOUNT = "/run/secrets/"
FILE_SUFFIX = "_FILE"


def environment_of(
    service: dict[str, Any], secrets: dict[str, str] | None = None
) -> dict[str, str]:
    """A service's ``environment``, in either of Compose's two spellings, with each
    ``<NAME>_FILE`` that names one of its secrets as the ``<NAME>`` it sets: the secret's
    content when ``secrets`` (name -> content) is given, else its path."""
    value = service.get("environment") or {}
    if isinstance(value, list):
        pairs = (item.partition("=") for item in value)
        written = {name: item for name, _, item in pairs}
    else:
        written = {name: "" if item is None else str(item) for name, item in value.items()}
    environment = {}
    for name, item in written.items():
        if name.endswith(FILE_SUFFIX) and item.startswith(SECRETS_MOUNT):
            secret = item.removeprefix(SECRETS_MOUNT)
            environment[name.removesuffix(FILE_SUFFIX)] = (
                item if secrets is None else secrets[secret]
            )
        else:
            environment[name] = item
    return environment


def secrets_of(service: dict[str, Any]) -> dict[str, str]:
    """The secrets a service mounts: their names and where they are mounted."""
    mounted = {}
    for entry in service.get("secrets") or []:
        if isinstance(entry, str):
            mounted[entry] = SECRETS_MOUNT + entry
        else:
            mounted[entry["source"]] = entry.get("target", SECRETS_MOUNT + entry["source"])
    return mounted


# ---- the .env file ----

DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
DOUBLE_QUOTED_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "$": "$"}


def parse_dotenv(text: str) -> dict[str, str]:
    """``NAME=value`` lines; double-quoted values may span lines and hold escapes, single-quoted
    ones are literal, unquoted ones end at `` #``."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = DOTENV_LINE.match(lines[index])
        index += 1
        if match is None:
            continue
        name, value = match.group(1), match.group(2)
        if value.startswith('"'):
            value = value[1:]
            while not _closes_double_quote(value) and index < len(lines):
                value += "\n" + lines[index]
                index += 1
            value = _unescape(value[: _closing_quote(value)])
        elif value.startswith("'"):
            value = value[1 : value.rindex("'")]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        values[name] = value
    return values


def _closing_quote(value: str) -> int:
    index = 0
    while index < len(value):
        if value[index] == "\\":
            index += 2
            continue
        if value[index] == '"':
            return index
        index += 1
    return -1


def _closes_double_quote(value: str) -> bool:
    return _closing_quote(value) >= 0


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: DOUBLE_QUOTED_ESCAPES.get(m.group(1), m.group(0)), value)
