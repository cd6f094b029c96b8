"""Before `make dev` starts anything: is every process's configuration valid, and is every
port it will listen on free?

Usage: ``python -m scripts.dev_check``. Loads the settings of each process the way that
process will (``tracker_runtime.settings``: the environment, then ``.env``, then the
defaults) and prints one line per problem, naming the variable to change, then exits with
status 2; prints nothing and exits 0 when all is well.
"""

import sys

from pydantic_settings import BaseSettings

from scripts.gateway import LISTEN_ADDRESS, GatewaySettings
from scripts.mail_catcher import CatcherSettings
from tracker_auth.config import Settings as AuthSettings
from tracker_notifier.config import Settings as NotifierSettings
from tracker_runtime.provision import ProvisionSettings
from tracker_runtime.serve import port_problem
from tracker_runtime.settings import configuration_problems, variable_name
from tracker_scheduler.config import Settings as SchedulerSettings
from tracker_tasks.config import Settings as TasksSettings

PROCESSES: dict[str, type[BaseSettings]] = {
    "auth": AuthSettings,
    "tasks": TasksSettings,
    "notifier": NotifierSettings,
    "scheduler": SchedulerSettings,
    "gateway": GatewaySettings,
    "mail catcher": CatcherSettings,
    "provisioning": ProvisionSettings,
}


def listeners() -> list[tuple[str, str, int, str]]:
    """(process, address, port, the variable that sets the port) of each process that
    listens; the gateway listens on every address. The worker and beat listen only for
    their metrics, and not at all when their metrics port is 0."""
    auth, tasks = AuthSettings(), TasksSettings()
    gateway, catcher = GatewaySettings(), CatcherSettings()
    notifier, scheduler = NotifierSettings(), SchedulerSettings()
    found = [
        ("auth", auth.host, auth.port, variable_name(AuthSettings, "port")),
        ("tasks", tasks.host, tasks.port, variable_name(TasksSettings, "port")),
        ("gateway", LISTEN_ADDRESS, gateway.port, variable_name(GatewaySettings, "port")),
        ("mail catcher", catcher.host, catcher.port, variable_name(CatcherSettings, "port")),
        (
            "notifier",
            notifier.metrics_host,
            notifier.metrics_port,
            variable_name(NotifierSettings, "metrics_port"),
        ),
        (
            "scheduler",
            scheduler.metrics_host,
            scheduler.metrics_port,
            variable_name(SchedulerSettings, "metrics_port"),
        ),
    ]
    return [listener for listener in found if listener[2] != 0]


def problems() -> list[str]:
    """Every problem, once, with the processes it stops."""
    found: dict[str, list[str]] = {}
    for process, settings in PROCESSES.items():
        for problem in configuration_problems(settings):
            found.setdefault(problem, []).append(process)
    lines = [f"{problem} [{', '.join(processes)}]" for problem, processes in found.items()]
    if lines:
        return lines  # the ports are read from the same settings: fix those first
    taken: dict[int, str] = {}
    for process, host, port, variable in listeners():
        if port in taken:
            lines.append(f"{process}: port {port} ({variable}) is also {taken[port]}'s")
        elif (busy := port_problem(host, port, variable=variable)) is not None:
            lines.append(f"{process}: {busy}")
        taken.setdefault(port, process)
    return lines


def main() -> int:
    lines = problems()
    for line in lines:
        print(line, file=sys.stderr)
    return 2 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
