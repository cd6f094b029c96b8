"""Read Dockerfiles and .dockerignore as Docker does, for checks that cannot run Docker.

Only what this repository's Dockerfiles use is supported: stages, ``ARG``, ``ENV``,
``WORKDIR``, ``COPY`` (with ``--from``), ``RUN``, ``USER``, ``VOLUME``, ``HEALTHCHECK``,
``ENTRYPOINT`` and ``CMD``, in exec or shell form.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

FLAG = re.compile(r"--([a-z-]+)(?:=(\S*))?")
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    flags: dict[str, str]
    arguments: str
    line: int

    @property
    def exec_form(self) -> list[str] | None:
        """The arguments as a list when written in exec (JSON) form, else ``None``."""
        if not self.arguments.startswith("["):
            return None
        value = json.loads(self.arguments)
        if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            raise ValueError(f"line {self.line}: not a JSON list of strings: {self.arguments}")
        return value

    def command(self) -> list[str]:
        """What Docker runs for this ``RUN``, ``CMD`` or ``ENTRYPOINT``."""
        return self.exec_form or ["/bin/sh", "-c", self.arguments]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    @property
    def healthcheck(self) -> list[str] | None:
        """The health check's command, as the runtime runs it."""
        instruction = self.last("HEALTHCHECK")
        if instruction is None or instruction.arguments == "NONE":
            return None
        keyword, _, rest = instruction.arguments.partition(" ")
        if keyword != "CMD":
            raise ValueError(f"line {instruction.line}: HEALTHCHECK needs CMD")
        return Instruction("CMD", {}, rest.strip(), instruction.line).command()


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with continuations joined and comments dropped, each with its first line number."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        lines.append((start, " ".join(pending)))
    return lines


def split_flags(arguments: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while arguments.startswith("--"):
        head, _, arguments = arguments.partition(" ")
        match = FLAG.fullmatch(head)
        if match is None:
            raise ValueError(f"cannot read the flag {head!r}")
        flags[match.group(1)] = match.group(2) or ""
        arguments = arguments.strip()
    return flags, arguments


def parse(path: Path) -> Dockerfile:
    stages: list[Stage] = []
    for line, text in logical_lines(path.read_text()):
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        flags, arguments = split_flags(rest.strip())
        instruction = Instruction(keyword, flags, arguments, line)
        if keyword == "FROM":
            base, _, alias = arguments.partition(" AS ")
            if not alias:
                base, _, alias = arguments.partition(" as ")
            stages.append(Stage(base.strip(), alias.strip() or None))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"{path}:{line}: {keyword} before FROM")
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(path, stages)


def words(text: str, variables: dict[str, str]) -> list[str]:
    """Split ``KEY=VALUE`` words as ``ENV`` and ``ARG`` do: quotes, backslash escapes and
    ``$NAME`` / ``${NAME}`` from ``variables`` (unknown names stay as written)."""
    result: list[str] = []
    current: list[str] = []
    quote = ""
    index = 0
    started = False

    def expand_at(position: int) -> tuple[str, int]:
        match = VARIABLE.match(text, position)
        if match is None:
            return "$", position + 1
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0)), match.end()

    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "'" and index + 1 < len(text):
            current.append(text[index + 1])
            index += 2
            started = True
        elif char in "\"'" and (not quote or quote == char):
            quote = "" if quote else char
            index += 1
            started = True
        elif char == "$" and quote != "'":
            value, index = expand_at(index)
            current.append(value)
            started = True
        elif char.isspace() and not quote:
            if started:
                result.append("".join(current))
            current, started = [], False
            index += 1
        else:
            current.append(char)
            index += 1
            started = True
    if started:
        result.append("".join(current))
    return result


def assignments(instruction: Instruction, variables: dict[str, str]) -> dict[str, str]:
    """The ``NAME=value`` pairs of an ``ENV`` or ``ARG`` (``ARG NAME`` alone gives '')."""
    values: dict[str, str] = {}
    for word in words(instruction.arguments, variables):
        name, separator, value = word.partition("=")
        if not separator and instruction.keyword == "ENV":
            raise ValueError(f"line {instruction.line}: write ENV as NAME=value")
        values[name] = value
    return values


def stage_environment(stage: Stage, base: dict[str, str]) -> dict[str, str]:
    """The environment a stage's image has: ``base`` (the base image's) plus its ``ENV``."""
    environment = dict(base)
    arguments: dict[str, str] = {}
    for instruction in stage.instructions:
        if instruction.keyword == "ARG":
            arguments.update(assignments(instruction, {**arguments, **environment}))
        elif instruction.keyword == "ENV":
            environment.update(assignments(instruction, {**arguments, **environment}))
    return environment


# ---- .dockerignore ----


@dataclass(frozen=True)
class IgnorePattern:
    regex: re.Pattern[str]
    exclusion: bool  # a "!" line: lets matching paths back in


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A pattern of moby/patternmatcher as a regular expression over slash-separated paths."""
    out = ["^"]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif char == "*":
            out.append("[^/]*")
            index += 1
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            end = pattern.index("]", index)
            out.append(pattern[index : end + 1])
            index = end + 1
        else:
            out.append(re.escape(char))
            index += 1
    out.append("$")
    return re.compile("".join(out))


def read_dockerignore(path: Path) -> list[IgnorePattern]:
    patterns = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        cleaned = str(PurePosixPath(line.removeprefix("!").strip())).lstrip("/")
        patterns.append(IgnorePattern(_pattern_regex(cleaned), exclusion))
    return patterns


def is_ignored(relative: str, patterns: list[IgnorePattern]) -> bool:
    """Whether Docker leaves ``relative`` (a path in the context) out of the build context:
    the last pattern that matches the path or one of its parent folders decides."""
    parts = relative.split("/")
    parents = ["/".join(parts[: index + 1]) for index in range(len(parts) - 1)]
    ignored = False
    for pattern in patterns:
        if pattern.exclusion != ignored:
            continue
        if pattern.regex.match(relative) or any(pattern.regex.match(p) for p in parents):
            ignored = not pattern.exclusion
    return ignored


def context_files(root: Path, patterns: list[IgnorePattern]) -> list[str]:
    """Every file of ``root`` that enters the build context, as slash-separated paths."""
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(".git/") or not path.is_file():
            continue
        if not is_ignored(relative, patterns):
            files.append(relative)
    return files
