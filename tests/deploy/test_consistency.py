"""The Dockerfiles, the Compose file, the image workflow and the code agree.

Every folder of services/ is a service: it has a Dockerfile, a Compose service of the same
name built from that Dockerfile, and an entry in the image workflow's matrix. Every variable a
service reads (found by introspecting its settings class, so a new setting is seen at once) is
set in Compose when a deployment has to decide it, and Compose sets nothing a service does not
read (a misspelt name would otherwise be ignored in silence).
"""

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import compose
from tests.deploy.dockerfile import Dockerfile, Instruction, parse, stage_environment
from tests.deploy.project import (
    ROOT,
    SERVICES,
    Variable,
    gateway_derived_variables,
    gateway_placeholders,
    has_prestart,
    image_matrix,
    makefile_variable,
    python_package,
    python_services,
    service_names,
    settings_class,
    variables,
    workspace_member_projects,
)
from tracker_runtime.settings import FROM_FILE

# The rule for which variables Compose must set. A variable must be set when a deployment has
# to decide its value, that is when
#   - it has no default; or
#   - it is one of the shared, unprefixed names (ENVIRONMENT, PUBLIC_URL, RABBITMQ_URL, SMTP_*,
#     LOG_*, ...): those are the operator's interface (DESIGN.md section 6); or
#   - it holds a secret (a SecretStr, also inside a model or a mapping); or
#   - its default only makes sense on a developer's machine: it names localhost or 127.0.0.1,
#     or it is a relative path (inside the image there is no checkout for it to be relative to).
# Every other variable (pool sizes, lifetimes, retry delays, ...) has a default that is right
# in production too, and may be left to it. The exceptions below say why.
MAY_BE_LEFT_UNSET = {
    "AUTH_DEVELOPMENT_KEYS_DIR": "read only when no signing key is configured, which "
    "production refuses",
    "AUTH_NEXT_SIGNING_KEY": "set only while rotating the signing key, never required",
    "AUTH_PREVIOUS_SIGNING_KEYS": "set only while rotating the signing key, never required",
}
DEVELOPMENT_HOSTS = ("localhost", "127.0.0.1")


SERVICE_NAMES = service_names()
PYTHON_SERVICES = python_services()


def compose_file() -> dict[str, Any]:
    return compose.load_raw(compose.COMPOSE_FILE)


def compose_service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = compose_file()["services"]
    return dict(services[name])


def build_services() -> dict[str, Any]:
    services: dict[str, Any] = compose.load_raw(compose.BUILD_FILE)["services"]
    return services


def dockerfile(service: str) -> Dockerfile:
    return parse(SERVICES / service / "Dockerfile")


def must_be_set(variable: Variable) -> bool:
    if variable.name in MAY_BE_LEFT_UNSET:
        return False
    default = variable.default
    development_default = (
        isinstance(default, str) and any(host in default for host in DEVELOPMENT_HOSTS)
    ) or (isinstance(default, Path) and not default.is_absolute())
    return (
        variable.field.is_required()
        or not variable.prefixed
        or variable.is_secret
        or development_default
    )


def compose_services_running(service: str) -> list[str]:
    """The Compose services that run this service's code: itself and its migrations."""
    names = [service]
    if has_prestart(service):
        names.append(f"migrate-{service}")
    return names


# ---- every service everywhere ----


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_service_has_a_dockerfile_a_compose_service_and_an_image(service: str) -> None:
    assert (SERVICES / service / "Dockerfile").is_file(), f"services/{service}/Dockerfile"
    assert service in compose_file()["services"], f"no Compose service {service!r}"
    assert build_services()[service]["build"] == {
        "context": "..",
        "dockerfile": f"services/{service}/Dockerfile",
    }
    assert compose_service(service)["image"] == (
        f"${{IMAGE_PREFIX:-task-tracker}}/{service}:${{IMAGE_TAG:-latest}}"
    )
    assert service in image_matrix(), f"{service} is missing from images.yml's matrix"


def test_the_image_matrix_and_the_builds_name_only_services() -> None:
    assert sorted(image_matrix()) == SERVICE_NAMES
    for name, service in build_services().items():
        assert (ROOT / service["build"]["dockerfile"]).is_file(), name


@pytest.mark.parametrize("service", [name for name in PYTHON_SERVICES if has_prestart(name)])
def test_migrations_run_once_before_the_service(service: str) -> None:
    migrate = compose_service(f"migrate-{service}")
    assert migrate["entrypoint"] == ["python", "-m", f"{python_package(service)}.prestart"]
    assert migrate["image"] == compose_service(service)["image"]
    assert migrate["restart"] == "no"
    assert compose_service(service)["depends_on"][f"migrate-{service}"] == {
        "condition": "service_completed_successfully"
    }


# ---- environment variables ----


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_every_variable_a_service_must_get_is_set_in_compose(service: str) -> None:
    """Set by Compose, or by the image itself (where the value is the same everywhere, such
    as the address a service listens on in its container)."""
    wanted = [variable for variable in variables(settings_class(service)) if must_be_set(variable)]
    image = stage_environment(parse(SERVICES / service / "Dockerfile").final, {})
    for name in compose_services_running(service):
        environment = {**image, **compose.environment_of(compose_service(name))}
        missing = [v.name for v in wanted if not any(n in environment for n in v.names)]
        assert not missing, f"Compose service {name} does not set {missing}"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_compose_sets_only_variables_the_service_reads(service: str) -> None:
    read = {name for variable in variables(settings_class(service)) for name in variable.names}
    for name in compose_services_running(service):
        environment = compose.environment_of(compose_service(name))
        unknown = set(environment) - read
        assert not unknown, f"Compose service {name} sets {unknown}, which {service} never reads"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_secrets_come_only_from_secret_files(service: str) -> None:
    """Every secret setting (a SecretStr, or a setting that may be read from a file: the
    URLs that carry passwords) reaches the containers as a file it mounts, never as a value
    in its environment."""
    secrets = [
        variable
        for variable in variables(settings_class(service))
        if variable.is_secret or FROM_FILE in variable.field.metadata
    ]
    for name in compose_services_running(service):
        environment = compose.environment_of(compose_service(name))
        mounted = set(compose.secrets_of(compose_service(name)).values())
        for variable in secrets:
            value = next((environment[n] for n in variable.names if n in environment), None)
            if value is None:
                continue  # reported by the test above when it must be set
            assert value in mounted, f"{name}: {variable.name} is not a secret file it mounts"


def test_the_exceptions_name_variables_that_exist() -> None:
    read = {
        name
        for service in PYTHON_SERVICES
        for variable in variables(settings_class(service))
        for name in variable.names
    }
    assert set(MAY_BE_LEFT_UNSET) <= read


def test_the_gateway_gets_every_variable_its_template_reads() -> None:
    image = dockerfile("frontend").final
    environment = stage_environment(image, {}) | compose.environment_of(compose_service("frontend"))
    derived = gateway_derived_variables()
    assert derived == {"GATEWAY_REAL_IP_FROM": {"GATEWAY_TRUSTED_PROXIES"}}
    direct = gateway_placeholders() - set(derived)
    read = direct | {name for names in derived.values() for name in names}
    assert direct <= set(environment)
    assert set(derived) <= gateway_placeholders()
    assert set(compose.environment_of(compose_service("frontend"))) <= read


def test_the_gateway_renders_its_variables_and_only_them() -> None:
    """The nginx image substitutes only the variables its filter matches: every placeholder
    must match, and none of nginx's own ``$variables`` may."""
    environment = stage_environment(dockerfile("frontend").final, {})
    pattern = re.compile(environment["NGINX_ENVSUBST_FILTER"])
    text = (SERVICES / "frontend" / "gateway.conf.template").read_text()
    for name in gateway_placeholders():
        assert pattern.search(name), f"{name} is not rendered"
    nginx_variables = set(re.findall(r"\$([a-z_][a-z0-9_]*)", text))
    assert nginx_variables, "the template uses nginx variables"
    for name in nginx_variables:
        assert not pattern.search(name), f"${name} would be replaced"


# ---- the images ----


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_the_image_runs_as_a_user_with_a_health_check_and_an_exec_entrypoint(
    service: str,
) -> None:
    image = dockerfile(service)
    final = image.final
    assert len(image.stages) >= 2, "a build stage keeps build tools out of the final image"
    user = final.last("USER")
    assert user is not None, "the final image sets its USER"
    assert user.arguments.split(":")[0] not in {"root", "0"}, "the final image runs as root"
    assert final.healthcheck is not None, "the final image has a HEALTHCHECK"
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None
    assert entrypoint.exec_form is not None, "ENTRYPOINT in exec form receives the signals"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_python_images_install_dependencies_before_the_code(service: str) -> None:
    build = dockerfile(service).stages[0]
    copies = [item for item in build.instructions if item.keyword in {"COPY", "RUN"}]
    syncs = [i for i, item in enumerate(copies) if "uv sync" in item.arguments]
    assert len(syncs) == 2, "one sync for the dependencies, one for the code"
    first, second = syncs
    assert "--no-install-workspace" in copies[first].arguments
    before = [item for item in copies[:first] if item.keyword == "COPY"]
    assert all(_copies_project_files_only(item) for item in before)
    copied = {item.arguments.split()[0] for item in before}
    assert set(workspace_member_projects()) <= copied, "uv needs every member's project file"
    assert f"--package {service.join(('tracker-', ''))}" in copies[second].arguments
    assert "--no-editable" in copies[second].arguments


def _copies_project_files_only(item: Instruction) -> bool:
    sources = item.arguments.split()[:-1]
    return all(source.endswith(("pyproject.toml", "uv.lock")) for source in sources)


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_images_use_the_uv_of_the_makefile(service: str) -> None:
    arguments = [
        item for item in dockerfile(service).stages[0].all("ARG") if "UV_VERSION" in item.arguments
    ]
    assert arguments, "the build stage pins uv with ARG UV_VERSION"
    assert arguments[0].arguments == f"UV_VERSION={makefile_variable('UV_VERSION')}"


# ---- replicas ----


def test_the_notifier_scales_and_the_scheduler_runs_once() -> None:
    notifier = compose_service("notifier")
    assert not {"container_name", "hostname", "ports"} & set(notifier)
    entrypoint = dockerfile("notifier").final.last("ENTRYPOINT")
    assert entrypoint is not None
    assert entrypoint.exec_form is not None
    assert "notifier@%h" in entrypoint.exec_form, "each replica names its node after its host"
    assert compose_service("scheduler")["deploy"]["replicas"] == 1
