"""The images, built and run without Docker.

``build`` follows a service's Dockerfile on this machine: one folder stands for the image's
file system; ``COPY`` copies from the build context (as .dockerignore filters it) or between
stages; ``WORKDIR``, ``ENV``, ``ARG`` and ``VOLUME`` do what they do in Docker; ``RUN`` runs
the steps that build the image's contents (``uv``, ``npm``, ``python``) and skips the ones
that set up the base system (installing uv, adding the user), which this machine already
has. Paths of the image (``/app/.venv``, ``/data``, ...) are mapped into that folder wherever
they appear: in the environment, in commands.

``Container`` then runs the image's command (``ENTRYPOINT`` + ``CMD``, or Compose's
override) with the image's environment under Compose's, rewritten from Compose's host names
to this machine's servers, and probes it with the image's own ``HEALTHCHECK``.
"""

import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from devsupport.processes import stop_process
from tests.deploy.dockerfile import Dockerfile, Instruction, assignments, parse

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
BUILD_STEPS = {"uv", "npm", "python"}
"""Programs whose RUN steps build the image's contents; other RUN steps set up the system."""


class FileSystem:
    """A folder standing for an image's file system, for the paths the Dockerfile creates."""

    def __init__(self, root: Path, image_paths: set[str]) -> None:
        self.root = root
        # Longest first, so /app/.venv maps before /app.
        self.image_paths = sorted(image_paths, key=len, reverse=True)
        alternatives = "|".join(re.escape(path) for path in self.image_paths)
        self._pattern = re.compile(rf"(?<![\w./-])({alternatives})(?=$|[/:\s\"'])")

    def host(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def rewrite(self, text: str) -> str:
        """``text`` with every image path in it replaced by where it is on this machine."""
        if not self.image_paths:
            return text
        return self._pattern.sub(lambda match: str(self.host(match.group(1))), text)


def image_paths(dockerfile: Dockerfile) -> set[str]:
    """The folders a Dockerfile creates or fills: its WORKDIRs, COPY targets and VOLUMEs."""
    paths: set[str] = set()
    for stage in dockerfile.stages:
        workdir = "/"
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                workdir = posixpath.join(workdir, instruction.arguments)
                paths.add(workdir)
            elif instruction.keyword == "VOLUME":
                paths.update(_volume_paths(instruction))
            elif instruction.keyword == "COPY":
                target = posixpath.join(workdir, instruction.arguments.split()[-1])
                if not target.endswith("/") and "." in posixpath.basename(target):
                    target = posixpath.dirname(target)  # a file: its folder is the image's
                paths.add(posixpath.normpath(target))
    return {path for path in paths if path != "/"}


def _volume_paths(instruction: Instruction) -> list[str]:
    return instruction.exec_form or instruction.arguments.split()


@dataclass
class Image:
    service: str
    dockerfile: Dockerfile
    files: FileSystem
    environment: dict[str, str]
    workdir: Path
    command: list[str]
    healthcheck: list[str] | None
    log: list[str] = field(default_factory=list)


def _copy_tree(source: Path, target: Path) -> None:
    if source.resolve() == target.resolve():
        return  # the same path in both stages: one file system stands for both
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _copy_from_context(
    sources: list[str], target: str, files: FileSystem, context: list[str]
) -> None:
    into_folder = target.endswith("/") or len(sources) > 1
    for source in sources:
        matched = [path for path in context if path == source or path.startswith(f"{source}/")]
        if not matched:
            raise FileNotFoundError(f"COPY {source}: not in the build context")
        for path in matched:
            if path == source:
                name = posixpath.basename(path)
                destination = posixpath.join(target, name) if into_folder else target
            else:
                destination = posixpath.join(target, path[len(source) + 1 :])
            _copy_tree(ROOT / path, files.host(destination))


def build_environment(base: dict[str, str]) -> dict[str, str]:
    """What a RUN step sees of this machine: its caches and tools, not its virtualenv."""
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return {**environment, **base, "PATH": f"{TOOLS_BIN}:{base['PATH']}"}


@dataclass
class _StageState:
    workdir: str = "/"
    environment: dict[str, str] = field(default_factory=dict)
    arguments: dict[str, str] = field(default_factory=dict)


def _run_step(instruction: Instruction, state: _StageState, files: FileSystem) -> str:
    program = shlex.split(instruction.arguments)[0]
    if program not in BUILD_STEPS:
        return f"skipped (system set-up): RUN {instruction.arguments}"
    step = files.rewrite(instruction.arguments)
    variables = {**state.arguments, **state.environment}
    subprocess.run(
        ["/bin/sh", "-c", step],
        cwd=files.host(state.workdir),
        env=build_environment({k: files.rewrite(v) for k, v in variables.items()}),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return f"RUN {step}"


def _copy(
    instruction: Instruction, state: _StageState, files: FileSystem, context: list[str]
) -> None:
    *sources, target = instruction.arguments.split()
    target = posixpath.join(state.workdir, target) + ("/" if target.endswith("/") else "")
    if "from" in instruction.flags:
        for source in sources:
            _copy_tree(files.host(source), files.host(target))
    else:
        _copy_from_context(sources, target, files, context)


def _apply(
    instruction: Instruction, state: _StageState, files: FileSystem, context: list[str]
) -> str | None:
    keyword = instruction.keyword
    variables = {**state.arguments, **state.environment}
    if keyword == "ARG":
        state.arguments.update(assignments(instruction, variables))
    elif keyword == "ENV":
        state.environment.update(assignments(instruction, variables))
    elif keyword == "WORKDIR":
        state.workdir = posixpath.join(state.workdir, instruction.arguments)
        files.host(state.workdir).mkdir(parents=True, exist_ok=True)
    elif keyword == "VOLUME":
        for path in _volume_paths(instruction):
            files.host(path).mkdir(parents=True, exist_ok=True)
    elif keyword == "COPY":
        _copy(instruction, state, files, context)
    elif keyword == "RUN":
        return _run_step(instruction, state, files)
    return None


def build(service: str, root: Path, context: list[str]) -> Image:
    """Follow ``services/<service>/Dockerfile`` into ``root``; ``context`` is the list of
    files in the build context."""
    dockerfile = parse(ROOT / "services" / service / "Dockerfile")
    files = FileSystem(root, image_paths(dockerfile))
    log: list[str] = []
    state = _StageState()
    for stage in dockerfile.stages:
        # The base images' PATH: this machine's, where python, nginx and sh are.
        state = _StageState(environment={"PATH": os.environ["PATH"]})
        for instruction in stage.instructions:
            done = _apply(instruction, state, files, context)
            if done is not None:
                log.append(done)
    final = dockerfile.final
    entrypoint = final.last("ENTRYPOINT")
    command = final.last("CMD")
    return Image(
        service=service,
        dockerfile=dockerfile,
        files=files,
        environment={name: files.rewrite(value) for name, value in state.environment.items()},
        workdir=files.host(state.workdir),
        command=(entrypoint.command() if entrypoint else [])
        + (command.command() if command else []),
        healthcheck=final.healthcheck,
        log=log,
    )


# ---- running ----


@dataclass
class Container:
    """One service's process, as its container would run it."""

    name: str
    command: list[str]
    environment: dict[str, str]
    workdir: Path
    healthcheck: list[str] | None
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.workdir,
            env=self.environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run_to_completion(self, timeout: float) -> int:
        self.start()
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def is_healthy(self) -> bool:
        assert self.healthcheck is not None
        try:
            probe = subprocess.run(
                self.healthcheck,
                cwd=self.workdir,
                env=self.environment,
                capture_output=True,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return probe.returncode == 0

    def wait_until_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            if self.is_healthy():
                return
            time.sleep(0.5)
        raise TimeoutError(f"{self.name} did not become healthy in {timeout:.0f} s")

    def stop(self, grace: float) -> float:
        """Stop it as ``docker stop`` does: SIGTERM to the main process, a grace period,
        then SIGKILL. Returns how long it took to exit (``inf`` when it had to be killed)."""
        assert self.process is not None
        if self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        killed = stop_process(self.process, group=False, timeout=grace) == -signal.SIGKILL
        took = time.monotonic() - started
        self.kill()  # closes the log
        return float("inf") if killed else took

    def kill(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal_number=signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


def envsubst(template: str, environment: dict[str, str], name_filter: str) -> str:
    """What the nginx image's entrypoint does with a template: envsubst, for the defined
    variables whose names match ``NGINX_ENVSUBST_FILTER``."""
    pattern = re.compile(name_filter)
    names = [name for name in environment if pattern.search(name)]
    for name in sorted(names, key=len, reverse=True):
        template = template.replace(f"${{{name}}}", environment[name])
        template = re.sub(rf"\${re.escape(name)}(?![A-Za-z0-9_])", environment[name], template)
    return template
