"""Each image's command, run as Compose runs it, on this machine instead of in Docker.

Every image is built by following its Dockerfile (tests/deploy/containers.py): the same uv
and npm steps fill a folder that stands for the image. Each Compose service is then started
in Compose's order, with the image's environment under the Compose file's (filled in from
the .env `make up` writes, so in production mode), rewritten from Compose's host names to
this machine's PostgreSQL, RabbitMQ, mail catcher and free ports. One-shot services
(migrations) must finish with 0; the others must pass their image's own HEALTHCHECK, serve a
registration through the gateway up to the welcome mail, and stop on SIGTERM within
`docker stop`'s grace period.

Databases ``*_compose_<run>`` and the RabbitMQ virtual host ``tracker-compose-<run>`` belong to
this test alone, so nothing else that runs beside it is disturbed.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy.engine import make_url

from devsupport.network import free_port
from devsupport.rabbitmq import ensure_rabbitmq_vhost, purge_queues
from scripts import compose_env
from tests.deploy import compose
from tests.deploy.containers import Container, Image, build, envsubst
from tests.deploy.dockerfile import context_files, read_dockerignore
from tests.deploy.project import ROOT, service_names
from tests.deploy.test_compose import local_env
from tests.support import run
from tracker_contracts.messaging import NOTIFIER_EVENTS, NOTIFIER_WORKER_QUEUES, TASKS_EVENTS

DATABASE_SUFFIX = f"_compose_{run.RUN_ID}"
VHOST = run.vhost("tracker-compose")
POSTGRES = ("127.0.0.1", 5432)
INFRASTRUCTURE = {"postgres", "rabbitmq"}
"""Compose services this machine provides itself (optional ones, under a profile, too)."""
DOCKER_STOP_GRACE = 10.0
HEALTHY_WITHIN = 120.0

# The nginx image's own nginx.conf, for the gateway outside its image: it includes the
# rendered templates (conf.d) in its http block and keeps its files in the prefix.
NGINX_MAIN = """{user}worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include {conf_d}/*.conf;
}}
"""

COMPOSE_SERVICES: dict[str, Any] = compose.load_raw(compose.COMPOSE_FILE)["services"]


def is_optional(name: str) -> bool:
    return bool(COMPOSE_SERVICES[name].get("profiles"))


def dependencies(name: str) -> dict[str, str]:
    depends = COMPOSE_SERVICES[name].get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {dependency: spec["condition"] for dependency, spec in depends.items()}


def one_shot(name: str) -> bool:
    """A service others wait for to finish (the migrations)."""
    return any(
        dependencies(other).get(name) == "service_completed_successfully"
        for other in COMPOSE_SERVICES
    )


def startup_order() -> list[str]:
    """The application services in an order that honours every depends_on."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name in INFRASTRUCTURE or is_optional(name):
            return
        for dependency in dependencies(name):
            visit(dependency)
        order.append(name)

    for name in COMPOSE_SERVICES:
        visit(name)
    return order


ORDER = startup_order()
ONE_SHOTS = [name for name in ORDER if one_shot(name)]
LONG_RUNNING = [name for name in ORDER if not one_shot(name)]


def psql(sql: str) -> None:
    host, port = POSTGRES
    program = shutil.which("psql")
    assert program is not None, "the PostgreSQL client (psql) runs the init script"
    subprocess.run(
        [program, "-h", host, "-p", str(port), "-U", "postgres", "-d", "postgres", "-qc", sql],
        check=True,
        capture_output=True,
    )


@dataclass
class Deployment:
    images: dict[str, Image]
    containers: dict[str, Container]
    failures: dict[str, str]
    gateway: str
    mail: Path


def listen_port(service: str) -> str:
    """The variable that sets the port an HTTP service's image listens on."""
    return f"{service.upper()}_PORT"


class Localizer:
    """Rewrites Compose's environment from its host names to this machine's servers."""

    def __init__(self, images: dict[str, Image], ports: dict[str, int], rabbitmq: str) -> None:
        self.ports = ports
        self.rabbitmq = rabbitmq
        # auth:8000 -> 127.0.0.1:<free port>, for each service that listens (AUTH_PORT...).
        self.addresses = {
            f"{name}:{image.environment[listen_port(name)]}": f"127.0.0.1:{ports[name]}"
            for name, image in images.items()
            if listen_port(name) in image.environment
        }

    def database(self, url: str) -> str:
        parsed = make_url(url)
        local = parsed.set(
            username="postgres",
            password=None,
            host=POSTGRES[0],
            port=POSTGRES[1],
            database=f"{parsed.database}{DATABASE_SUFFIX}",
        )
        return local.render_as_string(hide_password=False)

    def __call__(self, service: str, environment: dict[str, str]) -> dict[str, str]:
        local = {}
        for name, value in environment.items():
            rewritten = value
            for address, replacement in self.addresses.items():
                rewritten = rewritten.replace(address, replacement)
            if name.endswith("_DATABASE_URL"):
                rewritten = self.database(rewritten)
            if name.endswith("RABBITMQ_URL"):
                rewritten = self.rabbitmq
            local[name] = rewritten
        overrides = {
            # Provisioning, as the administrators of this machine's servers: the services
            # then connect as those (the URLs above), which it leaves alone.
            "POSTGRES_ADMIN_URL": f"postgresql://postgres@{POSTGRES[0]}:{POSTGRES[1]}/postgres",
            "RABBITMQ_ADMIN_URL": "",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports["smtp"]),
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            f"{service.upper()}_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.ports.get(service, 0)),
            listen_port(service): str(self.ports.get(service, 0)),
            "POSTGRES_USER": "postgres",
        }
        local.update({name: value for name, value in overrides.items() if name in local})
        return local


def image_of(service: dict[str, Any]) -> str:
    """The services/ folder whose image a Compose service runs."""
    image: str = service["image"]
    return image.rsplit("/", 1)[-1].split(":", maxsplit=1)[0]


def compose_vhost_url() -> str:
    parts = urlsplit(os.environ["TEST_RABBITMQ_URL"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{VHOST}", "", ""))


def source_entrypoint_scripts(image: Image, environment: dict[str, str]) -> dict[str, str]:
    """The environment after the entrypoint sourced the image's ``*.envsh`` scripts."""
    for script in sorted(image.files.host("/docker-entrypoint.d").glob("*.envsh")):
        sourced = subprocess.run(
            ["/bin/sh", "-c", '. "$0" && env -0', str(script)],
            env=environment,
            capture_output=True,
            check=True,
        )
        pairs = (item.partition(b"=") for item in sourced.stdout.split(b"\0") if item)
        environment = {name.decode(): value.decode() for name, _, value in pairs}
    return environment


def gateway_command(image: Image, environment: dict[str, str], run_dir: Path) -> list[str]:
    """The gateway's command with its entrypoint's template step done here, as it does it."""
    assert image.command[0] == "/docker-entrypoint.sh", image.command
    conf_d = run_dir / "conf.d"
    conf_d.mkdir(parents=True)
    (run_dir / "tmp").mkdir()
    environment = source_entrypoint_scripts(image, environment)
    for template in image.files.host("/etc/nginx/templates").glob("*.template"):
        rendered = envsubst(template.read_text(), environment, environment["NGINX_ENVSUBST_FILTER"])
        (conf_d / template.name.removesuffix(".template")).write_text(rendered)
    # In the image one unprivileged user runs master and workers; a master started as root
    # here would hand the workers to "nobody", who cannot read the test's private folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (run_dir / "nginx.conf").write_text(NGINX_MAIN.format(user=user, conf_d=conf_d))
    return [*image.command[1:], "-p", str(run_dir), "-c", "nginx.conf", "-e", "stderr"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("compose")
    dotenv = local_env()
    services = compose.load(compose.COMPOSE_FILE, dotenv)["services"]
    context = context_files(ROOT, read_dockerignore(ROOT / ".dockerignore"))
    images = {name: build(name, root / "images" / name, context) for name in service_names()}
    ports = {name: free_port() for name in [*images, "smtp"]}
    rabbitmq = compose_vhost_url()
    localize = Localizer(images, ports, rabbitmq)

    ensure_rabbitmq_vhost(rabbitmq)
    purge_queues(rabbitmq, [NOTIFIER_EVENTS.name, *NOTIFIER_WORKER_QUEUES, TASKS_EVENTS.name])

    # PostgreSQL as on its first start: no databases (the migrations create them).
    secrets = compose_env.new_secrets()
    provision = localize("provision", compose.environment_of(services["provision"], secrets))
    for name, url in provision.items():
        if name.endswith("_DATABASE_URL"):
            psql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    mail = root / "mail"
    catcher = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "mail_catcher.py")],
        env={**os.environ, "MAIL_CATCHER_PORT": str(ports["smtp"]), "MAIL_CATCHER_DIR": str(mail)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    containers: dict[str, Container] = {}
    failures: dict[str, str] = {}
    try:
        for name in ORDER:
            service = services[name]
            image = images[image_of(service)]
            environment = localize(
                image.service,
                {
                    "HOME": "/nonexistent",
                    "HOSTNAME": socket.gethostname(),
                    **image.environment,
                    **compose.environment_of(service, secrets),
                },
            )
            command = service.get("entrypoint") or image.command
            if image.service == "frontend":
                command = gateway_command(image, environment, root / "run" / name)
            container = Container(
                name, command, environment, image.workdir, image.healthcheck, root / f"{name}.log"
            )
            containers[name] = container
            try:
                if one_shot(name):
                    code = container.run_to_completion(timeout=HEALTHY_WITHIN)
                    if code != 0:
                        failures[name] = f"exited with {code}:\n{container.output()}"
                else:
                    container.start()
                    container.wait_until_healthy(HEALTHY_WITHIN)
            except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as error:
                failures[name] = f"{error}:\n{container.output()}"
        gateway = f"http://127.0.0.1:{ports['frontend']}"
        yield Deployment(images, containers, failures, gateway, mail)
    finally:
        for container in reversed(containers.values()):
            container.kill()
        catcher.terminate()
        catcher.wait(timeout=10)
        shutil.rmtree(root / "images", ignore_errors=True)


@pytest.mark.parametrize("name", ONE_SHOTS)
def test_the_migrations_run_to_completion(deployment: Deployment, name: str) -> None:
    assert name not in deployment.failures, deployment.failures[name]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_the_service_becomes_healthy(deployment: Deployment, name: str) -> None:
    assert name not in deployment.failures, deployment.failures[name]
    assert deployment.containers[name].is_healthy()


def test_a_registration_through_the_gateway_sends_one_welcome_mail(
    deployment: Deployment,
) -> None:
    if deployment.failures:
        pytest.fail(f"the stack is not up: {sorted(deployment.failures)}")
    email = f"compose-{uuid.uuid4().hex[:10]}@example.com"
    response = httpx.post(
        f"{deployment.gateway}/api/user",
        json={"email": email, "password": "correct horse battery"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert "secure" in response.headers["set-cookie"].lower()

    def welcome_mails() -> list[str]:
        subjects = []
        for path in sorted(deployment.mail.glob("*.eml")):
            message = BytesParser(policy=default).parsebytes(path.read_bytes())
            if email in str(message["To"]):
                subjects.append(str(message["Subject"]))
        return subjects

    deadline = time.monotonic() + 30
    while not welcome_mails() and time.monotonic() < deadline:
        time.sleep(0.2)
    [subject] = welcome_mails()
    assert "Welcome" in subject


@pytest.mark.parametrize("name", list(reversed(LONG_RUNNING)))
def test_the_service_stops_within_the_grace_period(deployment: Deployment, name: str) -> None:
    if name in deployment.failures:
        pytest.fail(f"{name} never ran")
    took = deployment.containers[name].stop(DOCKER_STOP_GRACE)
    assert took < DOCKER_STOP_GRACE, (
        f"{name} had to be killed:\n{deployment.containers[name].output()}"
    )


@pytest.mark.parametrize("name", ["notifier", "scheduler"])
def test_the_celery_images_carry_no_web_framework(deployment: Deployment, name: str) -> None:
    """The worker and beat install the shared runtime without its `web` extra."""
    site_packages = deployment.images[name].files.host("/app/.venv/lib")
    installed = {path.name for path in site_packages.glob("python*/site-packages/*")}
    assert installed, "the image has a virtualenv"
    assert not installed & {"fastapi", "starlette", "uvicorn", "faststream"}
