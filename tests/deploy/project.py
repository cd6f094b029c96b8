"""What the repository says about its services: their folders, the settings each reads from
the environment (found by introspecting its pydantic-settings class), the image matrix, the
workspace members."""

import importlib
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
IMAGES_WORKFLOW = ROOT / ".github" / "workflows" / "images.yml"
GATEWAY_TEMPLATE = SERVICES / "frontend" / "gateway.conf.template"
GATEWAY_ENTRYPOINT_SCRIPTS = SERVICES / "frontend" / "docker-entrypoint.d"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def service_names() -> list[str]:
    """Every folder of services/: each one is a service with an image."""
    return sorted(
        path.name
        for path in SERVICES.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_"))
    )


def python_package(service: str) -> str | None:
    """The import name of a Python service (``tracker_auth``), or None for the others."""
    project = SERVICES / service / "pyproject.toml"
    if not project.is_file():
        return None
    name: str = tomllib.loads(project.read_text())["project"]["name"]
    return name.replace("-", "_")


def python_services() -> list[str]:
    return [name for name in service_names() if python_package(name) is not None]


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"{python_package(service)}.config")
    settings: type[BaseSettings] = module.Settings
    return settings


def has_prestart(service: str) -> bool:
    package = python_package(service)
    return package is not None and (SERVICES / service / "src" / package / "prestart.py").is_file()


@dataclass(frozen=True)
class Variable:
    """One environment variable a settings class reads (any of ``names`` sets it)."""

    names: tuple[str, ...]
    field: FieldInfo
    prefixed: bool  # named with the service's own prefix, rather than a shared name

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def default(self) -> object:
        if self.field.default_factory is not None:
            return self.field.get_default(call_default_factory=True, validated_data={})
        return self.field.default

    @property
    def is_secret(self) -> bool:
        return holds_secret(self.field.annotation)


def variables(settings: type[BaseSettings]) -> list[Variable]:
    """The variables ``settings`` reads: a field's ``validation_alias`` when it has one
    (shared names such as ``RABBITMQ_URL``), else ``env_prefix`` + the field's name."""
    prefix = str(settings.model_config.get("env_prefix") or "").upper()
    found = []
    for name, info in settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names: tuple[str, ...] = (alias.upper(),)
        elif isinstance(alias, AliasChoices):
            names = tuple(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names = (f"{prefix}{name}".upper(),)
        found.append(Variable(names, info, bool(prefix) and names[0].startswith(prefix)))
    return found


def holds_secret(annotation: Any, seen: frozenset[Any] = frozenset()) -> bool:
    """Whether a type is, or contains (in a union, a container or a model), a ``SecretStr``."""
    if annotation is SecretStr:
        return True
    if annotation in seen:
        return False
    seen = seen | {annotation}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(holds_secret(f.annotation, seen) for f in annotation.model_fields.values())
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return holds_secret(typing.get_args(annotation)[0], seen)
    if origin is not None or isinstance(annotation, types.UnionType):
        return any(holds_secret(argument, seen) for argument in typing.get_args(annotation))
    return False


def gateway_placeholders() -> set[str]:
    """The variables the gateway template reads."""
    return set(PLACEHOLDER.findall(GATEWAY_TEMPLATE.read_text()))


def gateway_derived_variables() -> dict[str, set[str]]:
    """The variables the gateway image's entrypoint scripts (``*.envsh``) export, each with
    the variables it is computed from."""
    derived: dict[str, set[str]] = {}
    for script in GATEWAY_ENTRYPOINT_SCRIPTS.glob("*.envsh"):
        text = script.read_text()
        for name in re.findall(r"^export ([A-Z][A-Z0-9_]*)$", text, flags=re.MULTILINE):
            derived[name] = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text)) - {name}
    return derived


def image_matrix() -> list[str]:
    workflow = yaml.safe_load(IMAGES_WORKFLOW.read_text())
    services: list[str] = workflow["jobs"]["image"]["strategy"]["matrix"]["service"]
    return services


def workspace_member_projects() -> list[str]:
    """The pyproject.toml of every uv workspace member, relative to the root."""
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    projects = set()
    for pattern in members["members"]:
        for folder in ROOT.glob(pattern):
            if (folder / "pyproject.toml").is_file():
                projects.add((folder / "pyproject.toml").relative_to(ROOT).as_posix())
    return sorted(projects)


def makefile_variable(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match is not None, f"the Makefile sets no {name}"
    return match.group(1).strip()
