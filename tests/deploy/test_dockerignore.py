"""Secrets, local state and caches never enter an image: .dockerignore keeps them out of the
build context, which still holds everything the Dockerfiles copy."""

import functools

import pytest

from tests.deploy.dockerfile import context_files, is_ignored, parse, read_dockerignore
from tests.deploy.project import ROOT, SERVICES, service_names

PATTERNS = read_dockerignore(ROOT / ".dockerignore")


@functools.cache
def build_context() -> list[str]:
    return context_files(ROOT, PATTERNS)


NEVER_IN_AN_IMAGE = [
    ".env",
    "compose/.env",
    "services/auth/.env",
    "libs/runtime/src/.env.local",
    ".secrets/signing-key.pem",
    "services/auth/src/tracker_auth/key.pem",
    ".venv/bin/python",
    ".tools/bin/uv",
    ".git/config",
    ".run/mail/message.eml",
    "services/frontend/node_modules/jquery/dist/jquery.js",
    "services/frontend/dist/index.html",
    "libs/runtime/src/tracker_runtime/__pycache__/settings.cpython-311.pyc",
    "services/auth/tests/test_config.py",
    ".mypy_cache/3.11/x.json",
    "test-artifacts/metrics.json",
    "bench/results/auth.json",
]


@pytest.mark.parametrize("path", NEVER_IN_AN_IMAGE)
def test_stays_out_of_the_build_context(path: str) -> None:
    assert is_ignored(path, PATTERNS)


def test_the_build_context_holds_only_sources_and_locks() -> None:
    files = build_context()
    assert "uv.lock" in files
    assert "services/auth/src/tracker_auth/main.py" in files
    assert not [path for path in files if "/tests/" in path or path.endswith(".pem")]


@pytest.mark.parametrize("service", service_names())
def test_everything_a_dockerfile_copies_is_in_the_context(service: str) -> None:
    files = build_context()
    for stage in parse(SERVICES / service / "Dockerfile").stages:
        for copy in stage.all("COPY"):
            if "from" in copy.flags:
                continue
            for source in copy.arguments.split()[:-1]:
                assert any(path == source or path.startswith(f"{source}/") for path in files), (
                    f"{service}: COPY {source} finds nothing in the build context"
                )
