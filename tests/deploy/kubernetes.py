"""Render deploy/kubernetes/ as ``kubectl kustomize`` does and read what it holds: the objects,
each workload's containers and the environment each container gets."""

import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.project import ROOT

KUSTOMIZE_DIR = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("development", "production")
COMPONENTS = ("in-cluster-data", "keda", "monitoring")
NAMESPACE = "task-tracker"
# Where `make install` puts the tools: the project's virtual environment, and .tools for those
# kept apart from its lock (checkov pins versions the project's own dependencies outgrew).
TOOL_FOLDERS = (ROOT / ".venv" / "bin", ROOT / ".tools" / "bin")

# How `make install` brings each tool (README, "Deploy on Kubernetes"; the Makefile).
HOW_TO_INSTALL = {
    "kubectl": "`make install` installs it with the other system packages "
    "(SYSTEM_PACKAGES in the Makefile, scripts/ensure-system-packages.sh)",
    "kubernetes-validate": "`make install` installs it into .venv (the dev dependency group "
    "of pyproject.toml)",
    "checkov": "`make test` installs it into .tools (CHECKOV_VERSION in the Makefile)",
}


def tool(name: str) -> str:
    """The tool's path, from .venv/bin, .tools/bin or the PATH; a missing one fails the test,
    saying how to install it (never a skip: a check that does not run proves nothing)."""
    folders = [str(folder) for folder in TOOL_FOLDERS]
    found = shutil.which(name, path=os.pathsep.join([*folders, os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail(f"{name} is not installed: {HOW_TO_INSTALL[name]}")
    return found


@dataclass(frozen=True)
class Variant:
    """An overlay, alone or with one component, as an operator would apply it."""

    overlay: str
    component: str | None = None

    @property
    def name(self) -> str:
        return self.overlay if self.component is None else f"{self.overlay}+{self.component}"


VARIANTS = [Variant(overlay) for overlay in OVERLAYS] + [
    Variant(overlay, component) for overlay in OVERLAYS for component in COMPONENTS
]


def kustomization(variant: Variant, folder: Path) -> Path:
    """The folder to build: the overlay itself, or a kustomization adding the component to it
    (what an operator writes by adding the component to the overlay's own list)."""
    overlay = KUSTOMIZE_DIR / "overlays" / variant.overlay
    if variant.component is None:
        return overlay
    component = KUSTOMIZE_DIR / "components" / variant.component
    document = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": [os.path.relpath(overlay, folder)],
        "components": [os.path.relpath(component, folder)],
    }
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(document))
    return folder


@functools.cache
def rendered(variant: Variant) -> str:
    """The YAML ``kubectl kustomize`` prints for the variant."""
    kubectl = tool("kubectl")
    with tempfile.TemporaryDirectory(prefix="kustomize-") as folder:
        target = kustomization(variant, Path(folder))
        result = subprocess.run(
            [kubectl, "kustomize", str(target)], capture_output=True, text=True, check=False
        )
    assert result.returncode == 0, f"kubectl kustomize {variant.name}:\n{result.stderr}"
    return result.stdout


def objects(variant: Variant) -> list[dict[str, Any]]:
    return [item for item in yaml.safe_load_all(rendered(variant)) if item]


def find(variant: Variant, kind: str, name: str) -> dict[str, Any]:
    matches = [
        item
        for item in objects(variant)
        if item["kind"] == kind and item["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"{variant.name}: expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def of_kind(variant: Variant, kind: str) -> list[dict[str, Any]]:
    return [item for item in objects(variant) if item["kind"] == kind]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def workloads(variant: Variant) -> list[dict[str, Any]]:
    return [item for item in objects(variant) if item["kind"] in {"Deployment", "Job"}]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']} runs one container"
    return containers[0]


@dataclass(frozen=True)
class Source:
    """Where one environment variable of a container comes from."""

    value: str | None = None  # written in the manifest
    config_map: str | None = None  # the key's value in a ConfigMap of the rendering
    secret: tuple[str, str] | None = None  # (Secret, key), created by the cluster's operator


def environment_sources(variant: Variant, workload: dict[str, Any]) -> dict[str, Source]:
    """Each variable the container gets and its source; later entries win, as in Kubernetes."""
    config_maps = {
        item["metadata"]["name"]: item.get("data", {}) for item in of_kind(variant, "ConfigMap")
    }
    sources: dict[str, Source] = {}
    spec = container(workload)
    for entry in spec.get("envFrom", []):
        if "configMapRef" in entry:
            data = config_maps[entry["configMapRef"]["name"]]
            sources.update({name: Source(config_map=str(data[name])) for name in data})
        else:
            # The keys of a Secret are not known here: name each variable instead.
            pytest.fail(f"{workload['metadata']['name']}: envFrom {entry} hides which keys")
    for entry in spec.get("env", []):
        name = entry["name"]
        if "value" in entry:
            sources[name] = Source(value=str(entry["value"]))
        elif "secretKeyRef" in entry["valueFrom"]:
            reference = entry["valueFrom"]["secretKeyRef"]
            sources[name] = Source(secret=(reference["name"], reference["key"]))
        elif "configMapKeyRef" in entry["valueFrom"]:
            reference = entry["valueFrom"]["configMapKeyRef"]
            sources[name] = Source(config_map=str(config_maps[reference["name"]][reference["key"]]))
        else:
            pytest.fail(f"{workload['metadata']['name']}: {name} has an unexpected source")
    return sources
