"""The gateway of `make dev`: render its nginx configuration, then run nginx.

Usage: ``python -m scripts.gateway`` (``make dev`` runs it), or ``python -m scripts.gateway
--render-only`` to write the configuration without starting nginx. The ``${NAME}``
placeholders of ``services/frontend/gateway.conf.template`` are filled from the gateway's
settings, read like every other process's (``tracker_runtime.settings``: the environment,
then ``.env``, then the defaults), under the same names the nginx container's envsubst
reads. ``AUTH_UPSTREAM`` and ``TASKS_UPSTREAM`` may name several replicas (``host:port``
entries separated by commas or spaces, as ``make chaos`` runs them): nginx then spreads
the requests over them and passes over one that is down. The gateway serves the web app
that ``services/frontend/build.py`` assembles (``STATIC_ROOT``), so build it first
(``make frontend``).
"""

import argparse
import ipaddress
import os
import pwd
import re
import shutil
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_settings import SettingsConfigDict

from tracker_runtime.serve import exit_with, port_problem
from tracker_runtime.settings import Port, ProcessSettings, load_settings, variable_name

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "services" / "frontend"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
PROCESS = "gateway"
REAL_IP_PLACEHOLDER = "GATEWAY_REAL_IP_FROM"
"""Derived from ``GATEWAY_TRUSTED_PROXIES``: envsubst cannot repeat a directive per entry."""
LISTEN_ADDRESS = "0.0.0.0"  # noqa: S104  (`listen PORT` in the template: every address)
HSTS = re.compile(r"max-age=\d+(; ?includeSubDomains)?(; ?preload)?")
LIST_SEPARATOR = re.compile(r"[,\s]+")


def proxy_list(value: str) -> str:
    """``value`` if it is a list of addresses or networks, separated by commas or spaces."""
    for entry in LIST_SEPARATOR.split(value.strip()):
        if not entry:
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as error:
            raise ValueError(f"{entry!r} is not an address or a network") from error
    return value


def upstream_servers(value: str) -> str:
    """``value`` if it names one ``host:port`` or several, separated by commas or spaces."""
    entries = [entry for entry in LIST_SEPARATOR.split(value.strip()) if entry]
    if not entries:
        raise ValueError("Needs at least one host:port")
    for entry in entries:
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{entry!r} is not a host:port")
    return value


def server_lines(value: str) -> str:
    """The upstream entries as the template's ``server ${...};`` line takes them: one entry
    as it is (the container's envsubst fills in the same), several as one ``server``
    directive each."""
    return "; server ".join(entry for entry in LIST_SEPARATOR.split(value.strip()) if entry)


def hsts_value(value: str) -> str:
    """``value`` if it is empty (no HSTS) or a Strict-Transport-Security header value."""
    if value and not HSTS.fullmatch(value):
        raise ValueError("Needs a header value such as max-age=31536000; includeSubDomains")
    return value


class GatewaySettings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    port: Port = 8080
    run_dir: Annotated[
        Path, Field(description="Where the rendered configuration and nginx's files go.")
    ] = Path(".run/gateway")
    auth_upstream: Annotated[
        str, AfterValidator(upstream_servers), Field(validation_alias="AUTH_UPSTREAM")
    ] = "127.0.0.1:8001"
    tasks_upstream: Annotated[
        str, AfterValidator(upstream_servers), Field(validation_alias="TASKS_UPSTREAM")
    ] = "127.0.0.1:8002"
    static_root: Annotated[Path, Field(validation_alias="STATIC_ROOT")] = FRONTEND / "dist"
    trusted_proxies: Annotated[
        str,
        AfterValidator(proxy_list),
        Field(
            description="Proxies whose X-Forwarded-For names the client (comma-separated "
            "addresses or networks); empty: none, the peer is the client."
        ),
    ] = ""
    hsts: Annotated[
        str,
        AfterValidator(hsts_value),
        Field(description="The Strict-Transport-Security header; empty: none (plain HTTP)."),
    ] = ""

    def real_ip_from(self) -> str:
        """The ``set_real_ip_from`` directives of the trusted proxies (the image's
        ``gateway-trusted-proxies.envsh`` writes the same)."""
        entries = [entry for entry in LIST_SEPARATOR.split(self.trusted_proxies) if entry]
        return "".join(f"set_real_ip_from {entry}; " for entry in entries)

    def template_values(self) -> dict[str, str]:
        """The template's placeholders, by the names of the variables that set them."""
        values = {
            variable_name(GatewaySettings, name): str(getattr(self, name))
            for name in ("port", "auth_upstream", "tasks_upstream", "static_root", "hsts")
        }
        for name in ("auth_upstream", "tasks_upstream"):
            values[variable_name(GatewaySettings, name)] = server_lines(getattr(self, name))
        values[REAL_IP_PLACEHOLDER] = self.real_ip_from()
        return values


def render(template: str, values: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise SystemExit(f"{PROCESS}: the template needs {name}, which the gateway lacks")
        return values[name]

    return PLACEHOLDER.sub(substitute, template)


def prepare(settings: GatewaySettings) -> Path:
    """Write ``nginx.conf`` and ``gateway.conf`` into the run folder; return it."""
    if not (settings.static_root / "index.html").is_file():
        exit_with(
            PROCESS,
            f"no web app in {settings.static_root}: run `make frontend` first",
        )
    output = settings.run_dir.resolve()
    output.mkdir(parents=True, exist_ok=True)
    (output / "tmp").mkdir(exist_ok=True)
    template = (FRONTEND / "gateway.conf.template").read_text()
    (output / "gateway.conf").write_text(render(template, settings.template_values()))
    (output / "nginx.conf").write_text(worker_user() + (FRONTEND / "nginx-dev.conf").read_text())
    return output


def worker_user() -> str:
    """nginx started by root runs its workers as ``nobody``, who may not read a checkout in
    a private home folder: keep them the user who started it."""
    if os.geteuid() != 0:
        return ""  # nginx cannot change users then, and warns when told to
    return f"user {pwd.getpwuid(os.geteuid()).pw_name};\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.gateway", description=__doc__)
    parser.add_argument("--render-only", action="store_true", help="do not start nginx")
    arguments = parser.parse_args()
    settings = load_settings(GatewaySettings, process=PROCESS)
    output = prepare(settings)
    if arguments.render_only:
        print(f"gateway configuration written to {output}")
        return
    variable = variable_name(GatewaySettings, "port")
    problem = port_problem(LISTEN_ADDRESS, settings.port, variable=variable)
    if problem is not None:
        exit_with(PROCESS, problem)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    # Replaced by nginx, so that honcho's signals reach it directly.
    os.execv(nginx, [nginx, "-p", str(output), "-c", "nginx.conf", "-e", "stderr"])  # noqa: S606


if __name__ == "__main__":
    main()
